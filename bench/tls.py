"""TLS scenarios: `tls`, `mtls` (keep-alive) and `mtls-newconn` (a full handshake per request).

wrk cannot present a client certificate, so these scenarios load every target with bench.tlsload (pinned to
the load core like wrk): the gateway with TLS (and the mtls policy, required), nginx terminating the same
TLS/mTLS (when installed) and, in the same run, the gateway's plain-HTTP pass-through as the baseline.
Certificates come from `splp certs` (EC P-256) in the run's temporary folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.loadgen import LoadResult
from bench.procs import LOAD_CPU, PROXY_CPU, BenchError, Server, free_port, pinned
from bench.report import Measurements, build_rows
from bench.scenarios import Scenario
from bench.targets import PASSTHROUGH_CONF, Context, Running, _serve_gateway, nginx_conf, start_upstream


@dataclass(frozen=True, slots=True)
class TlsMode:
    mutual: bool
    new_connections: bool


MODES = {
    "tls": TlsMode(mutual=False, new_connections=False),
    "mtls": TlsMode(mutual=True, new_connections=False),
    "mtls-newconn": TlsMode(mutual=True, new_connections=True),
}


def make_pki(folder: Path) -> dict[str, str]:
    from gateway.cli import main

    pki = str(folder)
    for argv in (
        ["certs", "ca", "--dir", pki],
        ["certs", "server", "--dir", pki, "--name", "127.0.0.1", "--out", "server"],
        ["certs", "client", "--dir", pki, "--name", "bench-app", "--out", "client"],
    ):
        with contextlib.redirect_stdout(io.StringIO()):
            if main(argv) != 0:
                raise BenchError(f"splp {' '.join(argv)} failed")
    return {name: str(folder / name) for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


def gateway_conf(workdir: Path, pki: dict[str, str], mode: TlsMode) -> Path:
    data: dict[str, Any] = yaml.safe_load((PASSTHROUGH_CONF / "gateway.yaml").read_text())
    tls: dict[str, Any] = {"cert": pki["server.pem"], "key": pki["server.key"]}
    if mode.mutual:
        tls["client_ca"] = [pki["ca.pem"]]
        data["apis"][0]["policies"] = [{"mtls": {"mode": "required"}}]
    data["gateway"]["listen"]["tls"] = tls
    target = workdir / "gateway-tls"
    target.mkdir(exist_ok=True)
    (target / "gateway.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return target / "gateway.yaml"


def nginx_tls_conf(prefix: Path, port: int, upstream: str, pki: dict[str, str], mode: TlsMode) -> str:
    plain = f"listen 127.0.0.1:{port} reuseport backlog=4096;\n"
    ssl = (
        f"listen 127.0.0.1:{port} ssl reuseport backlog=4096;\n"
        f"    ssl_certificate {pki['server.pem']};\n    ssl_certificate_key {pki['server.key']};\n"
        "    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;\n"
    )
    if mode.mutual:
        ssl += f"    ssl_client_certificate {pki['ca.pem']};\n    ssl_verify_client on;\n"
    conf = nginx_conf(prefix, port, proxy_to=upstream)
    if plain not in conf:
        raise BenchError("nginx_conf changed its listen line; update bench/tls.py")
    return conf.replace(plain, ssl)


def _nginx(ctx: Context, pki: dict[str, str], mode: TlsMode) -> Running:
    prefix = ctx.workdir / "nginx-tls"
    prefix.mkdir(exist_ok=True)
    prefix.chmod(0o755)
    port = free_port()
    (prefix / "nginx.conf").write_text(nginx_tls_conf(prefix, port, ctx.upstream_url, pki, mode))
    nginx = str(ctx.tools["nginx"])
    command = [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log"),
               "-g", "daemon off;"]  # fmt: skip
    server = ctx.spawn("nginx", command, cpus=PROXY_CPU)
    server.wait_for_port(port)
    return Running("nginx", f"https://127.0.0.1:{port}", server)


def cpu_seconds(server: Server | None) -> float:
    """User + system CPU time of the server's process group so far (the proxy's cost, whatever the noise)."""
    if server is None:
        return 0.0
    total = 0
    for pid in server.group_pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def load(
    url: str, pki: dict[str, str], *, connections: int, duration: float, mutual: bool, new: bool, warmup: float = 1.0
) -> LoadResult:
    command = [sys.executable, "-m", "bench.tlsload", "--url", url, "--connections", str(connections),
               "--duration", str(duration), "--warmup", str(warmup), "--ca", pki["ca.pem"]]  # fmt: skip
    if mutual:
        command += ["--cert", pki["client.pem"], "--key", pki["client.key"]]
    if new:
        command.append("--new-connections")
    result = subprocess.run(pinned(command, LOAD_CPU), capture_output=True, text=True, timeout=duration + 60)
    if result.returncode != 0:
        raise BenchError(f"bench.tlsload failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    data = json.loads(result.stdout)
    return LoadResult(rps=data["rps"], p50_ms=data["p50_ms"], p99_ms=data["p99_ms"], requests=data["requests"],
                      errors=data["errors"])  # fmt: skip


def run_tls_scenario(scenario: Scenario, args: Any, found: dict[str, str | None], log: Any) -> list[dict[str, Any]]:
    mode = MODES[scenario.name]
    measured: dict[str, Measurements] = {}
    cpu_us: dict[str, list[float]] = {}  # proxy CPU per request, per round: steadier than req/s on a shared machine
    with tempfile.TemporaryDirectory(prefix=f"splp-bench-{scenario.name}-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        workdir.chmod(0o755)
        ctx = Context(workdir=workdir, scenario=scenario, tools=found, log=log)
        stack.callback(ctx.stop_all)
        pki = make_pki(workdir / "pki")
        start_upstream(ctx)
        running: list[tuple[Running, bool]] = []  # (target, speaks TLS)
        wanted = set(args.target_names)
        if "gateway-passthrough" in wanted:
            running.append((_serve_gateway(ctx, "gateway-passthrough", PASSTHROUGH_CONF / "gateway.yaml"), False))
        if "gateway" in wanted:
            gateway = _serve_gateway(ctx, "gateway", gateway_conf(workdir, pki, mode))
            gateway.base_url = gateway.base_url.replace("http://", "https://")
            running.append((gateway, True))
        if "nginx" in wanted:
            if found.get("nginx"):
                running.append((_nginx(ctx, pki, mode), True))
            else:
                log(f"{scenario.name}: target nginx skipped: nginx is not installed")
        for target, tls in running:
            url = target.base_url + scenario.url_path
            check = load(url, pki, connections=1, duration=1, mutual=tls and mode.mutual, new=mode.new_connections)
            if check.errors or not check.requests:
                raise BenchError(f"{target.name}: {url} answered {check.errors} errors in {check.requests} requests")
            measured[target.name] = Measurements(proxy_cores=1)
            log(f"{scenario.name}: {target.name} at {target.base_url} answers 2xx")
        for round_no in range(args.rounds):
            shift = round_no % len(running)
            for target, tls in running[shift:] + running[:shift]:
                before = cpu_seconds(target.server)
                result = load(target.base_url + scenario.url_path, pki, connections=args.connections,
                              duration=args.duration, mutual=tls and mode.mutual, new=mode.new_connections,
                              warmup=0)  # fmt: skip
                used = (cpu_seconds(target.server) - before) * 1e6 / max(result.requests, 1)
                cpu_us.setdefault(target.name, []).append(used)
                measured[target.name].wrk.append(result)
                errors = f", {result.errors} ERRORS" if result.errors else ""
                log(f"round {round_no + 1}/{args.rounds} {target.name}: {result.rps:,.0f} req/s, "
                    f"p50 {result.p50_ms} ms, p99 {result.p99_ms} ms, CPU {used:,.0f} µs/req{errors}")  # fmt: skip
        for target, _ in running:
            if target.server:
                measured[target.name].peak_rss_mb = target.server.peak_rss_mb()
    rows = build_rows(scenario.name, measured)
    for row in rows:
        row["cpu_us_per_request"] = round(statistics.median(cpu_us[row["target"]]), 1)
        log(f"{scenario.name} {row['target']}: median proxy CPU {row['cpu_us_per_request']:,.0f} µs/request")
    return rows
