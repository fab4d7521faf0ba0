"""The upstream and the targets under load: the gateway (as bench/conf says, plus the other upstream client)
and the references `direct`, `nginx`, `lean` and `fast-gateway`.

Every proxy runs pinned to PROXY_CPU; the upstream shares LOAD_CPU with the load generator.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bench.procs import LOAD_CPU, PROXY_CPU, BenchError, Server, free_port
from bench.scenarios import CONF_DIR, Scenario
from bench.tools import FASTGW_DIR
from bench.upstream.server import BODY as UPSTREAM_BODY

PASSTHROUGH_CONF = CONF_DIR / "passthrough"

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Context:
    workdir: Path
    scenario: Scenario
    tools: dict[str, str | None]  # command -> path: wrk, nginx, node (None when missing)
    upstream_url: str = ""
    log: Callable[[str], None] = print
    started: list[Server] = field(default_factory=list)  # every server, for the caller to stop whatever happens

    def spawn(self, name: str, command: list[str], *, cpus: str, env: dict | None = None) -> Server:
        """Starts a server and records it before anything can fail, so a failed start still gets stopped."""
        server = Server(name, command, cpus=cpus, log=self.workdir / f"{name}.log", env=env, cwd=str(ROOT))
        self.started.append(server)
        return server

    def stop_all(self) -> None:
        while self.started:
            self.started.pop().stop()


@dataclass
class Running:
    name: str
    base_url: str  # http://127.0.0.1:PORT
    server: Server | None  # None for `direct` (no proxy process)
    proxy_cores: int | None = 1
    notes: list[str] = field(default_factory=list)


# ---- nginx ---------------------------------------------------------------------------------------------------


def nginx_conf(
    prefix: Path, port: int, *, proxy_to: str | None = None, body: bytes | None = None, streaming: bool = False
) -> str:
    """A self-contained nginx.conf: pid, logs and temp paths under `prefix`; either a fixed 200 or a proxy_pass.
    `streaming`: bodies pass through unbuffered both ways and unlimited in size (the media scenarios)."""
    if (proxy_to is None) == (body is None):
        raise ValueError("give exactly one of proxy_to and body")
    if proxy_to is not None:
        upstream = (
            f"  upstream backend {{\n    server {proxy_to.removeprefix('http://')};\n"
            "    keepalive 256;\n    keepalive_requests 1000000;\n    keepalive_timeout 60s;\n  }\n"
        )
        stream = (
            "      proxy_buffering off;\n      proxy_request_buffering off;\n      client_max_body_size 0;\n"
            if streaming
            else ""
        )
        location = (
            "    location / {\n      proxy_pass http://backend;\n      proxy_http_version 1.1;\n"
            f'      proxy_set_header Connection "";\n{stream}    }}\n'
        )
    else:
        upstream = ""
        text = body.decode().replace("\\", "\\\\").replace("'", "\\'")
        location = f"    location / {{\n      default_type application/json;\n      return 200 '{text}';\n    }}\n"
    temp = "\n".join(
        f"  {kind}_temp_path {prefix}/{kind}_temp;" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
        "events {\n  worker_connections 4096;\n}\n"
        f"http {{\n  access_log off;\n{temp}\n  keepalive_requests 1000000;\n  keepalive_timeout 60s;\n{upstream}"
        f"  server {{\n    listen 127.0.0.1:{port} reuseport backlog=4096;\n{location}  }}\n}}\n"
    )


def _start_nginx(ctx: Context, name: str, cpus: str, **conf) -> tuple[Server, int]:
    prefix = ctx.workdir / name
    prefix.mkdir(exist_ok=True)
    prefix.chmod(0o755)  # the worker runs as nobody when the master is root
    port = free_port()
    (prefix / "nginx.conf").write_text(nginx_conf(prefix, port, **conf))
    command = [ctx.tools["nginx"], "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log"),
               "-g", "daemon off;"]  # fmt: skip
    server = ctx.spawn(name, command, cpus=cpus)
    server.wait_for_port(port)
    return server, port


# ---- the upstream --------------------------------------------------------------------------------------------


def start_upstream(ctx: Context) -> Server:
    """nginx answering a fixed body when installed (fastest), else the built-in asyncio Protocol server."""
    if ctx.tools.get("nginx"):
        server, port = _start_nginx(ctx, "upstream-nginx", LOAD_CPU, body=UPSTREAM_BODY)
    else:
        port = free_port()
        command = [sys.executable, "-m", "bench.upstream.server", "--port", str(port)]
        server = ctx.spawn("upstream", command, cpus=LOAD_CPU)
        server.wait_for_port(port)
    ctx.upstream_url = f"http://127.0.0.1:{port}"
    return server


# ---- targets -------------------------------------------------------------------------------------------------


def _direct(ctx: Context) -> Running:
    return Running("direct", ctx.upstream_url, None, proxy_cores=None)


def _nginx(ctx: Context) -> Running:
    server, port = _start_nginx(ctx, "nginx", PROXY_CPU, proxy_to=ctx.upstream_url)
    return Running("nginx", f"http://127.0.0.1:{port}", server)


def _lean(ctx: Context) -> Running:
    port = free_port()
    command = [sys.executable, "-m", "bench.lean.proxy", "--port", str(port)]
    server = ctx.spawn("lean", command, cpus=PROXY_CPU, env={"LEAN_UPSTREAM": ctx.upstream_url})
    server.wait_for_port(port)
    return Running("lean", f"http://127.0.0.1:{port}", server)


def _fast_gateway(ctx: Context) -> Running:
    port = free_port()
    command = [ctx.tools["node"], str(FASTGW_DIR / "gateway.js"), str(port)]
    server = ctx.spawn("fast-gateway", command, cpus=PROXY_CPU, env={"FASTGW_UPSTREAM": ctx.upstream_url})
    server.wait_for_port(port)
    return Running("fast-gateway", f"http://127.0.0.1:{port}", server)


def splp_command() -> str:
    candidate = Path(sys.executable).parent / "splp"
    return str(candidate) if candidate.exists() else "splp"


def _serve_gateway(ctx: Context, name: str, config: Path) -> Running:
    port = free_port()
    command = [splp_command(), "serve", "--config", str(config), "--port", str(port), "--workers", "1",
               "--log-level", "warning"]  # fmt: skip
    server = ctx.spawn(name, command, cpus=PROXY_CPU, env={"SPLP_BENCH_UPSTREAM": ctx.upstream_url})
    server.wait_for_port(port)
    return Running(name, f"http://127.0.0.1:{port}", server)


def _gateway(ctx: Context) -> Running:
    return _serve_gateway(ctx, "gateway", ctx.scenario.conf)


def _gateway_passthrough(ctx: Context) -> Running:
    """The same gateway with no policy, in the same run: the fair baseline for a policy scenario's ratio."""
    return _serve_gateway(ctx, "gateway-passthrough", PASSTHROUGH_CONF / "gateway.yaml")


def _unavailable_baseline(ctx: Context) -> str | None:
    if ctx.scenario.conf.resolve() == PASSTHROUGH_CONF.resolve():
        return "the scenario is passthrough itself (that is `gateway`)"
    return None


def configured_client(conf_dir: Path) -> str:
    """The upstream client the scenario's gateway.yaml selects, or the project's default when it names none."""
    from gateway.config.model import UpstreamDefaults

    data = yaml.safe_load((conf_dir / "gateway.yaml").read_text()) or {}
    return (data.get("upstream") or {}).get("client") or UpstreamDefaults.model_fields["client"].default


def client_variant(conf_dir: Path, workdir: Path, client: str) -> Path:
    """A copy of the scenario's gateway.yaml with `upstream.client: <client>` (includes made absolute)."""
    data = yaml.safe_load((conf_dir / "gateway.yaml").read_text()) or {}
    data.setdefault("upstream", {})["client"] = client
    if data.get("include"):
        data["include"] = [str((conf_dir / pattern).resolve()) for pattern in data["include"]]
    target = workdir / f"gateway-{client}"
    target.mkdir(exist_ok=True)
    (target / "gateway.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def _gateway_with(client: str) -> Callable[[Context], Running]:
    def start(ctx: Context) -> Running:
        return _serve_gateway(ctx, f"gateway-{client}", client_variant(ctx.scenario.conf, ctx.workdir, client))

    return start


def _unavailable_client(client: str) -> Callable[[Context], str | None]:
    """The variant runs only when the scenario's config uses the other client and the variant validates."""

    def unavailable(ctx: Context) -> str | None:
        if client == "lean" and not (ROOT / "gateway" / "upstream" / "lean.py").exists():
            return "gateway/upstream/lean.py does not exist"
        if configured_client(ctx.scenario.conf) == client:
            return f"the scenario's config already uses client: {client} (that is `gateway`)"
        variant = client_variant(ctx.scenario.conf, ctx.workdir, client)
        env = {**os.environ, "SPLP_BENCH_UPSTREAM": ctx.upstream_url or "http://127.0.0.1:1"}
        check = subprocess.run([splp_command(), "check", str(variant)], capture_output=True, text=True, env=env)
        if check.returncode != 0:
            return f"config with client: {client} does not validate: {check.stderr.strip()}"
        return None

    return unavailable


@dataclass(frozen=True)
class TargetSpec:
    name: str
    start: Callable[[Context], Running]
    unavailable: Callable[[Context], str | None] = lambda ctx: None  # a reason to skip, or None


TARGETS: dict[str, TargetSpec] = {
    spec.name: spec
    for spec in (
        TargetSpec("direct", _direct),
        TargetSpec("nginx", _nginx, lambda ctx: None if ctx.tools.get("nginx") else "nginx is not installed"),
        TargetSpec("lean", _lean),
        TargetSpec("fast-gateway", _fast_gateway,
                   lambda ctx: None if ctx.tools.get("node") else "node/npm or the fast-gateway install is missing"),
        TargetSpec("gateway", _gateway),
        TargetSpec("gateway-passthrough", _gateway_passthrough, _unavailable_baseline),
        TargetSpec("gateway-lean", _gateway_with("lean"), _unavailable_client("lean")),
        TargetSpec("gateway-aiohttp", _gateway_with("aiohttp"), _unavailable_client("aiohttp")),
    )
}  # fmt: skip


def verify(running: Running, scenario: Scenario, timeout: float = 5.0) -> None:
    """One request: the target must answer the scenario's status and body, or the run stops here."""
    host_port = running.base_url.removeprefix("http://")
    connection = http.client.HTTPConnection(host_port, timeout=timeout)
    try:
        connection.request(
            scenario.method, scenario.url_path, body=scenario.body or None, headers=dict(scenario.headers)
        )
        response = connection.getresponse()
        body = response.read()
    except OSError as exc:
        raise BenchError(
            f"{running.name}: {scenario.method} {running.base_url}{scenario.url_path} failed: {exc}"
        ) from exc
    finally:
        connection.close()
    if response.status != scenario.expect_status or body != scenario.expect_body:
        tail = f"\n{running.server.tail()}" if running.server else ""
        raise BenchError(
            f"{running.name}: {scenario.method} {scenario.url_path} answered {response.status} {body[:200]!r}; "
            f"expected {scenario.expect_status} {scenario.expect_body[:200]!r}{tail}"
        )
