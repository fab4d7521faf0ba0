"""Cluster operations under steady load through HAProxy, counted: rolling restart, config change by SIGHUP,
node loss, store faults. The short forms run in `make test` (tests/bench/test_cluster.py), the long form
with figures in `make bench SCENARIO=cluster` (`bench()` below)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench import tools
from bench.cluster.smoke import SMOKE_LIMIT, SMOKE_TIER, ControlClient, smoke, subscribe, token_on_every_node
from bench.cluster.topology import (
    Cluster,
    ClusterError,
    Ports,
    down,
    start_node,
    stop_process,
    up,
    write_configs,
)
from bench.loadgen import LoadResult, parse_wrk


@dataclass
class Load:
    """Steady load through the balancer: `concurrency` keep-alive clients sending GETs back to back (a
    `pause` between calls keeps it light on a shared machine). A failure is any answer other than 200/429
    or a connection error; 429s are counted apart."""

    url: str
    token: str
    concurrency: int = 4
    pause: float = 0.0
    statuses: Counter[int | str] = field(default_factory=Counter)
    headers_seen: Counter[str] = field(default_factory=Counter)
    watch_header: str = ""

    @property
    def failed(self) -> int:
        return sum(n for key, n in self.statuses.items() if key not in (200, 429))

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    async def _client(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        headers = {"authorization": f"Bearer {self.token}"}
        while not stop.is_set():
            try:
                async with http.get(self.url, headers=headers) as response:
                    await response.read()
                    self.statuses[response.status] += 1
                    if self.watch_header:
                        self.headers_seen[response.headers.get(self.watch_header, "")] += 1
            except (aiohttp.ClientError, OSError) as exc:
                self.statuses[type(exc).__name__] += 1
            if self.pause:
                await asyncio.sleep(self.pause)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Load]:
        stop = asyncio.Event()
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            tasks = [asyncio.create_task(self._client(http, stop)) for _ in range(self.concurrency)]
            try:
                yield self
            finally:
                stop.set()
                await asyncio.gather(*tasks)


def haproxy_status(cluster: Cluster) -> dict[str, str]:
    """Server name -> UP/DOWN/MAINT..., read from HAProxy's stats socket ("show stat" CSV)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(2)
        sock.connect(str(cluster.dir / "haproxy.sock"))
        sock.sendall(b"show stat\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    rows = [line.split(",") for line in data.decode().splitlines() if line and not line.startswith("#")]
    return {row[1]: row[17].split(" ")[0] for row in rows if row[0] == "gateways" and row[1].startswith("node")}


def haproxy_command(cluster: Cluster, command: str) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(2)
        sock.connect(str(cluster.dir / "haproxy.sock"))
        sock.sendall(command.encode() + b"\n")
        sock.recv(65536)


def wait_haproxy(cluster: Cluster, name: str, state: str, timeout: float = 20.0) -> float:
    """Waits until HAProxy reports `name` in `state`; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if haproxy_status(cluster).get(name) == state:
            return time.monotonic() - started
        time.sleep(0.05)
    raise ClusterError(f"HAProxy did not report {name} {state} within {timeout:g}s: {haproxy_status(cluster)}")


def restart_node(cluster: Cluster, index: int) -> None:
    """SIGTERM (unready, drain, exit), start, ready, back in HAProxy's rotation."""
    name = f"node{index + 1}"
    stop_process(cluster, name)
    rejoin_node(cluster, index)


def rejoin_node(cluster: Cluster, index: int) -> None:
    start_node(cluster, index)
    wait_haproxy(cluster, f"node{index + 1}", "UP")


async def rolling_restart(cluster: Cluster, load: Load) -> list[int]:
    """Restarts every node in turn under `load`; returns the failed requests during each restart."""
    failed = []
    for index in range(len(cluster.ports.nodes)):
        before = load.failed
        await asyncio.to_thread(restart_node, cluster, index)
        failed.append(load.failed - before)
    return failed


async def reload_changed_config(cluster: Cluster, load: Load, marker: str) -> int:
    """Writes a changed config (a response header naming `marker`) and SIGHUPs every node; waits until
    every answer carries it. Returns the failed requests meanwhile."""
    before = load.failed
    load.watch_header = "x-cluster-config"
    write_configs(cluster, extra_policies=[{"headers": {"response": {"set": {"X-Cluster-Config": marker}}}}])
    for name, pid in cluster.pids.items():
        if name.startswith("node"):
            os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + 15
    while True:
        load.headers_seen.clear()
        await asyncio.sleep(0.5)
        if load.headers_seen and set(load.headers_seen) == {marker}:
            return load.failed - before
        if time.monotonic() > deadline:
            raise ClusterError(f"not every node serves the changed config: {dict(load.headers_seen)}")


@dataclass
class NodeLoss:
    failed: int
    marked_down_after: float  # seconds from SIGKILL until HAProxy took the node out


async def kill_node(cluster: Cluster, load: Load, index: int = 0) -> NodeLoss:
    name = f"node{index + 1}"
    before = load.failed
    os.kill(cluster.pids[name], signal.SIGKILL)
    started = time.monotonic()
    await asyncio.to_thread(wait_haproxy, cluster, name, "DOWN")
    marked = time.monotonic() - started
    await asyncio.sleep(1.0)  # failures after the node is out would be the survivors' fault
    result = NodeLoss(load.failed - before, marked)
    await asyncio.to_thread(stop_process, cluster, name, None, 5)  # reaps it
    return result


async def throttle_exact(cluster: Cluster, api: dict[str, Any]) -> Counter[int]:
    """A fresh subscription on the smoke tier, then 2 x its limit through the balancer: exactly the limit
    passes when the nodes count together."""
    async with aiohttp.ClientSession() as http:
        control = ControlClient(http, cluster.control_url)
        await control.sign_in()
        consumer = await subscribe(control, api, SMOKE_TIER)
        token = await token_on_every_node(consumer, http, cluster.lb_url, len(cluster.ports.nodes))
        statuses: Counter[int] = Counter()
        for _ in range(2 * SMOKE_LIMIT):
            async with http.get(cluster.lb_url + consumer.path, headers={"authorization": f"Bearer {token}"}) as r:
                statuses[r.status] += 1
    return statuses


def bench(args: argparse.Namespace) -> int:
    """`make bench SCENARIO=cluster`: a fresh cluster on the given ports; figures printed as a table."""
    ports = Ports(args.lb_port, args.node_ports, args.control_port, args.backend_port)
    cluster = Cluster.new(args.dir, ports, postgres=args.postgres, redis=args.redis)
    try:
        up(cluster)
        rows = asyncio.run(_bench(cluster, args.duration))
    finally:
        down(cluster)
        (cluster.dir / "cluster.json").unlink(missing_ok=True)
    width = max(len(name) for name, _ in rows)
    print("SPLP cluster bench (HAProxy -> gateway nodes on loopback, shared PostgreSQL and Redis)")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    return 0


async def _bench(cluster: Cluster, duration: float) -> list[tuple[str, str]]:
    result = await smoke(cluster)
    rows: list[tuple[str, str]] = []
    async with aiohttp.ClientSession() as http:
        token = await result.load.token(http, cluster.lb_url)
    url = cluster.lb_url + result.load.path
    wrk = tools.ensure_debian(["wrk"])["wrk"]
    if wrk is None:
        raise ClusterError("wrk is required for the throughput figures (apt-get install -y wrk)")
    direct = await asyncio.to_thread(_wrk, wrk, cluster.node_url(0) + result.load.path, token, duration)
    rows.append(("wrk -> node1 directly (reference)", _figure(direct)))
    for nodes in (1, len(cluster.ports.nodes)):
        for i in range(len(cluster.ports.nodes)):
            state = "enable" if i < nodes else "disable"
            await asyncio.to_thread(haproxy_command, cluster, f"{state} server gateways/node{i + 1}")
        await asyncio.sleep(1)
        measured = await asyncio.to_thread(_wrk, wrk, url, token, duration)
        rows.append((f"wrk -> HAProxy -> {nodes} node(s)", f"{_figure(measured)}; {measured.rps / direct.rps:.2f}x"))
    load = Load(url, token, concurrency=8)
    async with load.running():
        await asyncio.sleep(1)
        per_restart = await rolling_restart(cluster, load)
        rows.append(("rolling restart: failed per node restart", f"{per_restart} of {load.total} requests"))
        rows.append(("SIGHUP with a changed config: failed", str(await reload_changed_config(cluster, load, "2"))))
        loss = await kill_node(cluster, load)
        rows.append(("SIGKILL one node: failed", f"{loss.failed} (HAProxy took it out {loss.marked_down_after:.2f}s)"))
        rows.append(("throttle after the loss (200/429)", str(dict(await throttle_exact(cluster, result.api)))))
        started = time.monotonic()
        await asyncio.to_thread(rejoin_node, cluster, 0)
        rows.append(("killed node restarted: back in rotation after", f"{time.monotonic() - started:.1f}s"))
    rows.append(("requests under load in total, failed", f"{load.total}, {load.failed}"))
    return rows


def _wrk(wrk: str, url: str, token: str, duration: float) -> LoadResult:
    """wrk, 2 threads x 64 connections, unpinned (the cluster spans every core)."""
    command = [wrk, "-t2", "-c64", f"-d{max(1, round(duration))}s", "--latency", "--timeout", "5s"]
    command += ["-H", f"authorization: Bearer {token}", url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30)
    if result.returncode != 0:
        raise ClusterError(f"wrk failed: {result.stderr or result.stdout}")
    return parse_wrk(result.stdout)


def _figure(result: LoadResult) -> str:
    return f"{result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, {result.errors} errors"
