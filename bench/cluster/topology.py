"""A loopback SPLP cluster: HAProxy in front of gateway nodes (`splp serve --role gateway`), one control-API
process (`--role control`) and a backend, all on the local PostgreSQL (a database made for this cluster)
and Redis (a key prefix made for it). Every process runs in its own session and is recorded by pid in
<dir>/cluster.json, so `down` stops exactly what `up` started, even from another shell.

One ETL worker (`splp etl --config PATH worker`) takes queued runs from the same database, once this
tree has that command (issue 14); until then the cluster runs without it and `up` says so.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SPLP = [sys.executable, "-m", "gateway.cli"]
STATE_FILE = "cluster.json"
DRAIN_DELAY = 2.0  # > HAProxy's check inter (0.5s) x fall (2): the balancer stops sending before the drain
GRACEFUL_TIMEOUT = 10.0
ADMIN = ("admin", "cluster-admin-password")  # a throwaway loopback cluster's bootstrap account


class ClusterError(RuntimeError):
    """A process did not start or become ready: the message names it and ends with its log."""


@dataclass
class Ports:
    lb: int
    nodes: list[int]
    control: int
    backend: int


@dataclass
class Cluster:
    dir: Path
    ports: Ports
    database: str
    prefix: str
    postgres: str = "postgresql://postgres@127.0.0.1:5432"
    redis: str = "redis://127.0.0.1:6379/0"
    pids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def new(cls, dir: Path, ports: Ports, *, postgres: str, redis: str) -> Cluster:
        tag = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"
        return cls(dir.resolve(), ports, f"splp_cluster_{tag}", f"cluster_{tag}", postgres, redis)

    @classmethod
    def load(cls, dir: Path) -> Cluster:
        data = json.loads((dir / STATE_FILE).read_text())
        return cls(**{**data, "dir": Path(data["dir"]), "ports": Ports(**data["ports"])})

    def save(self) -> None:
        data = {**asdict(self), "dir": str(self.dir)}
        (self.dir / STATE_FILE).write_text(json.dumps(data, indent=2))

    @property
    def catalog(self) -> str:
        return f"{self.postgres}/{self.database}"

    @property
    def lb_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.lb}"

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.control}"

    def node_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports.nodes[index]}"

    @property
    def config_path(self) -> Path:
        return self.dir / "gateway.yaml"

    def log(self, name: str) -> Path:
        return self.dir / f"{name}.log"


def gateway_config(cluster: Cluster, *, extra_policies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The one gateway.yaml every node and the control API share (the nodes differ only by --port)."""
    return {
        "gateway": {
            "listen": {"host": "127.0.0.1", "port": cluster.ports.nodes[0]},
            "workers": 1,
            "watch_config": False,  # changes arrive by SIGHUP, node by node, as an operator rolls them
            "limits": {"drain_delay": f"{DRAIN_DELAY:g}s", "graceful_timeout": f"{GRACEFUL_TIMEOUT:g}s"},
        },
        "control": {"listen": {"host": "127.0.0.1", "port": cluster.ports.control}},
        "storage": {
            "catalog": cluster.catalog,
            "counters": cluster.redis,
            "serve_catalog": True,
            "catalog_cache": str(cluster.dir / "catalog-cache-${SPLP_NODE:-control}.json"),
        },
        "key_managers": [{"type": "resident", "key_file": str(cluster.dir / "keys.json")}],
        "policies": [
            {"auth": {}},
            {
                "throttle": {
                    "subscription": {},
                    "application": {},
                    "key_prefix": cluster.prefix,
                    "cluster_nodes": len(cluster.ports.nodes),  # sizes each node's share if Redis is away
                }
            },
            *(extra_policies or []),
        ],
    }


def haproxy_config(cluster: Cluster) -> str:
    """Round robin over the nodes; a node is out after 2 failed /_ready checks 0.5s apart (draining answers
    503) and back after 2 good ones; a request whose connection failed or got no answer is retried once on
    another node. X-Served-By names the node (tests see the spread)."""
    servers = "\n".join(f"    server node{i + 1} 127.0.0.1:{port} check" for i, port in enumerate(cluster.ports.nodes))
    return f"""global
    maxconn 4096
    stats socket {cluster.dir}/haproxy.sock mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 10s
    retries 2
    option redispatch 1
    retry-on conn-failure empty-response junk-response

frontend splp
    bind 127.0.0.1:{cluster.ports.lb}
    default_backend gateways

backend gateways
    balance roundrobin
    option httpchk GET /_ready
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2
    http-response set-header X-Served-By %s
{servers}
"""


def write_configs(cluster: Cluster, **options: Any) -> None:
    cluster.dir.mkdir(parents=True, exist_ok=True)
    cluster.config_path.write_text(yaml.safe_dump(gateway_config(cluster, **options), sort_keys=False))
    (cluster.dir / "haproxy.cfg").write_text(haproxy_config(cluster))


def start_process(cluster: Cluster, name: str, command: list[str], env: dict[str, str] | None = None) -> int:
    with open(cluster.log(name), "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,  # Ctrl-C in the shell that ran `make cluster` leaves the cluster alone
        )
    _CHILDREN[process.pid] = process
    cluster.pids[name] = process.pid
    cluster.save()
    return process.pid


_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}  # started by this process: reaped on stop


def start_node(cluster: Cluster, index: int) -> int:
    name = f"node{index + 1}"
    port = cluster.ports.nodes[index]
    command = [*SPLP, "serve", "--role", "gateway", "--config", str(cluster.config_path)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--status-port", "0", "--log-level", "warning"]
    pid = start_process(cluster, name, command, {"SPLP_NODE": name})
    wait_ready(cluster, name, f"{cluster.node_url(index)}/_ready")
    return pid


def wait_ready(cluster: Cluster, name: str, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(cluster.pids[name]):
            raise ClusterError(f"{name} exited before it was ready:\n{tail(cluster.log(name))}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL we built
                if response.status == 200:
                    return
        time.sleep(0.1)
    raise ClusterError(f"{name} not ready at {url} within {timeout:.0f}s:\n{tail(cluster.log(name))}")


def wait_port(cluster: Cluster, name: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(cluster.pids[name]):
            raise ClusterError(f"{name} exited before listening:\n{tail(cluster.log(name))}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise ClusterError(f"{name} did not listen on 127.0.0.1:{port}:\n{tail(cluster.log(name))}")


def up(cluster: Cluster) -> None:
    """Creates the database, writes the configs, starts backend, control API, admin, nodes, HAProxy."""
    create_database(cluster)
    write_configs(cluster)
    for old_log in cluster.dir.glob("*.log"):  # a previous cluster's; restarts within this one append
        old_log.unlink()
    cluster.save()
    backend = [sys.executable, "-m", "bench.upstream.server", "--port", str(cluster.ports.backend)]
    start_process(cluster, "backend", backend)
    wait_port(cluster, "backend", cluster.ports.backend)
    control = [*SPLP, "serve", "--role", "control", "--config", str(cluster.config_path), "--log-level", "warning"]
    start_process(cluster, "control", control)  # migrates the schema and makes the shared signing key
    wait_ready(cluster, "control", f"{cluster.control_url}/_ready")
    create_admin(cluster)
    for index in range(len(cluster.ports.nodes)):
        start_node(cluster, index)
    if etl_worker_available():  # takes queued ETL runs from the catalog database; it listens on nothing
        start_process(cluster, "etl-worker", [*SPLP, "etl", "--config", str(cluster.config_path), "worker"])
    start_process(cluster, "haproxy", ["haproxy", "-db", "-f", str(cluster.dir / "haproxy.cfg")])
    wait_port(cluster, "haproxy", cluster.ports.lb)
    wait_ready(cluster, "haproxy", f"{cluster.lb_url}/_ready")
    if "etl-worker" in cluster.pids and not alive(cluster.pids["etl-worker"]):
        raise ClusterError(f"the ETL worker exited:\n{tail(cluster.log('etl-worker'))}")


def etl_worker_available() -> bool:
    """`splp etl worker` comes with the ETL operations work (issue 14); until this tree has it, the
    cluster runs without a worker and says so."""
    from gateway.etl.cli import add_subcommands

    parser = argparse.ArgumentParser()
    add_subcommands(parser.add_subparsers())
    quiet = io.StringIO()
    try:
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            parser.parse_args(["etl", "--config", "x", "worker", "--help"])
    except SystemExit as exc:
        return exc.code == 0
    return True


def create_admin(cluster: Cluster) -> None:
    username, password = ADMIN
    command = [*SPLP, "admin", "create", "--username", username, "--tenant", "kominfo"]
    command += ["--config", str(cluster.config_path)]
    result = subprocess.run(command, input=password + "\n", capture_output=True, text=True, cwd=ROOT, timeout=60)
    if result.returncode != 0:
        raise ClusterError(f"splp admin create failed: {result.stderr}")


def stop_process(cluster: Cluster, name: str, sig: int | None = signal.SIGTERM, timeout: float | None = None) -> None:
    """Signals one recorded process by pid (`sig` None: already signalled) and waits for it to end
    (SIGKILL after `timeout`)."""
    pid = cluster.pids.get(name)
    if pid is None:
        return
    timeout = DRAIN_DELAY + GRACEFUL_TIMEOUT + 5 if timeout is None else timeout
    if sig is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    if not wait_gone(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_gone(pid, 5)
    del cluster.pids[name]
    cluster.save()


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None  # also reaps it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] == "Z"


def down(cluster: Cluster) -> None:
    """Stops every recorded process (HAProxy first, then the nodes together), then drops the database and
    the Redis keys."""
    stop_process(cluster, "haproxy")
    nodes = [name for name in cluster.pids if name.startswith("node")]
    for name in nodes:  # all drain at once
        with contextlib.suppress(ProcessLookupError):
            os.kill(cluster.pids[name], signal.SIGTERM)
    for name in nodes:
        stop_process(cluster, name, None)
    for name in ["etl-worker", "control", "backend", *cluster.pids]:
        stop_process(cluster, name)
    drop_database(cluster)
    delete_redis_keys(cluster)


def create_database(cluster: Cluster) -> None:
    _admin_sql(cluster, f'CREATE DATABASE "{cluster.database}"')


def drop_database(cluster: Cluster) -> None:
    _admin_sql(cluster, f'DROP DATABASE IF EXISTS "{cluster.database}" WITH (FORCE)')


def _admin_sql(cluster: Cluster, sql: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(f"{cluster.postgres}/postgres")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def delete_redis_keys(cluster: Cluster) -> None:
    import asyncio

    import coredis

    async def run() -> None:
        client = coredis.Redis.from_url(cluster.redis)
        keys: list[str | bytes] = [key async for key in client.scan_iter(match=f"*{cluster.prefix}*")]
        if keys:
            await client.delete(keys)

    asyncio.run(run())


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
