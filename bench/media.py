"""Large transfers: `make bench SCENARIO=download-1g|upload-1g|upload-4g` through the gateway and nginx.

One upstream (bench/upstream/media.py, core 1) serves and swallows the bytes; nginx (proxy_buffering and
proxy_request_buffering off) and the gateway (bench/conf/media: the media policy with type and size
checks, lean client; plus the aiohttp client) each run pinned to core 0; the client is this process,
pinned to core 1 while it transfers. Rounds are interleaved; the median throughput is reported with its
ratio to nginx's; the proxy's CPU seconds per GiB (utime + stime, robust on a shared machine) with nginx's
over it; and for the gateways the peak RSS growth (VmHWM after every round minus VmRSS before
the first). Upload targets also run `+digest`: the same gateway, the request carrying a Content-Digest
(sha-256) that the media policy verifies on the fly.
"""

from __future__ import annotations

import hashlib
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from bench.procs import LOAD_CPU, PROXY_CPU, BenchError, Server, free_port
from bench.scenarios import CONF_DIR, Scenario
from bench.targets import Context, _serve_gateway, _start_nginx, client_variant

GIB = 1024**3
MIB = 1024**2
SCENARIOS: dict[str, tuple[str, int]] = {
    "download-1g": ("download", GIB),
    "upload-1g": ("upload", GIB),
    "upload-4g": ("upload", 4 * GIB),
}
MEDIA_CONF = CONF_DIR / "media"
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 8
UPLOAD_BLOCK = MP4_HEAD + bytes(range(256)) * ((MIB - len(MP4_HEAD)) // 256) + b"\x00" * ((MIB - len(MP4_HEAD)) % 256)


def _rss_kb(server: Server, field: str) -> int:
    total = 0
    for pid in server.group_pids():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _reset_peak(server: Server) -> None:
    """Sets VmHWM back to the current RSS (Linux clear_refs "5"), so the peak measured after the rounds is
    the transfers' own, not start-up's; without the permission the peak since start is reported."""
    for pid in server.group_pids():
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            pass


def _cpu_seconds(server: Server) -> float:
    """utime + stime of the server's process group so far: the noise-robust cost of a transfer."""
    ticks = 0
    for pid in server.group_pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _connect(base_url: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=120)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_head(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            raise BenchError(f"connection closed before the response head: {data[:200]!r}")
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if status != 200:  # a short answer (201, a problem): read its body whole
        length = next(
            (int(line[15:]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")), 0
        )
        while len(rest) < length:
            more = sock.recv(65536)
            if not more:
                break
            rest += more
    return status, rest


def download(base_url: str, size: int) -> float:
    """Seconds to GET `size` bytes to the last byte."""
    buffer = bytearray(4 * MIB)
    view = memoryview(buffer)
    with _connect(base_url) as sock:
        started = time.perf_counter()
        sock.sendall(b"GET /bench/v1/file/%d HTTP/1.1\r\nHost: bench\r\n\r\n" % size)
        status, rest = _read_head(sock)
        if status != 200:
            raise BenchError(f"{base_url}: download answered {status}")
        got = len(rest)
        while got < size:
            n = sock.recv_into(view)
            if not n:
                raise BenchError(f"{base_url}: download cut at {got} of {size} bytes")
            got += n
        return time.perf_counter() - started


def upload(base_url: str, size: int, digest: str | None) -> float:
    """Seconds to PUT `size` bytes (UPLOAD_BLOCK repeated) and get the backend's 201 with that size."""
    head = b"PUT /bench/v1/upload HTTP/1.1\r\nHost: bench\r\nContent-Type: video/mp4\r\nContent-Length: %d\r\n" % size
    if digest:
        head += b"Content-Digest: " + digest.encode() + b"\r\n"
    block = memoryview(UPLOAD_BLOCK)
    with _connect(base_url) as sock:
        started = time.perf_counter()
        sock.sendall(head + b"\r\n")
        for _ in range(size // MIB):
            sock.sendall(block)
        status, rest = _read_head(sock)
        elapsed = time.perf_counter() - started
    if status != 201 or rest != b'{"size":%d}' % size:
        raise BenchError(f"{base_url}: upload answered {status} {rest[:200]!r}")
    return elapsed


def upload_digest(size: int) -> str:
    import base64

    digest = hashlib.sha256()
    for _ in range(size // MIB):
        digest.update(UPLOAD_BLOCK)
    return "sha-256=:" + base64.b64encode(digest.digest()).decode() + ":"


def _nginx(ctx: Context) -> tuple[str, Server]:
    server, port = _start_nginx(ctx, "nginx", PROXY_CPU, proxy_to=ctx.upstream_url, streaming=True)
    return f"http://127.0.0.1:{port}", server


def _gateway(client: str) -> Callable[[Context], tuple[str, Server]]:
    def start(ctx: Context) -> tuple[str, Server]:
        conf = MEDIA_CONF if client == "lean" else client_variant(MEDIA_CONF, ctx.workdir, client)
        running = _serve_gateway(ctx, "gateway" if client == "lean" else f"gateway-{client}", conf)
        assert running.server is not None
        return running.base_url, running.server

    return start


def run_scenario(name: str, rounds: int, found: dict[str, str | None], log: Callable[[str], None]) -> list[dict]:
    kind, size = SCENARIOS[name]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix=f"splp-bench-{name}-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        workdir.chmod(0o755)
        scenario = Scenario(name=name, description=f"{kind} of {size // MIB} MiB", conf=MEDIA_CONF)
        ctx = Context(workdir=workdir, scenario=scenario, tools=found, log=log)
        stack.callback(ctx.stop_all)
        port = free_port()
        upstream = ctx.spawn("upstream-media", [sys.executable, "-m", "bench.upstream.media", "--port", str(port)],
                             cpus=LOAD_CPU)  # fmt: skip
        upstream.wait_for_port(port)
        ctx.upstream_url = f"http://127.0.0.1:{port}"

        starters: dict[str, Callable[[Context], tuple[str, Server]]] = {}
        if found.get("nginx"):
            starters["nginx"] = _nginx
        else:
            log(f"{name}: nginx is not installed; no reference")
        starters["gateway"] = _gateway("lean")
        starters["gateway-aiohttp"] = _gateway("aiohttp")
        digest = upload_digest(size) if kind == "upload" else None
        targets: list[tuple[str, str, Server, str | None]] = []  # name, url, server, digest header
        for target, start in starters.items():
            url, server = start(ctx)
            targets.append((target, url, server, None))
            if digest and target.startswith("gateway"):
                targets.append((f"{target}+digest", url, server, digest))
        for _, _, server, _ in targets:
            _reset_peak(server)
        baseline = {server.pid: _rss_kb(server, "VmRSS:") for _, _, server, _ in targets}
        seconds: dict[str, list[float]] = {target: [] for target, *_ in targets}
        cpu: dict[str, list[float]] = {target: [] for target, *_ in targets}
        own = os.sched_getaffinity(0)
        if int(LOAD_CPU) in own:
            os.sched_setaffinity(0, {int(LOAD_CPU)})
        try:
            for round_no in range(rounds):
                shift = round_no % len(targets)
                for target, url, server, header in targets[shift:] + targets[:shift]:
                    before = _cpu_seconds(server)
                    took = download(url, size) if kind == "download" else upload(url, size, header)
                    seconds[target].append(took)
                    cpu[target].append((_cpu_seconds(server) - before) / (size / GIB))
                    log(f"{name} round {round_no + 1}/{rounds} {target}: {size / took / 1e6:,.0f} MB/s ({took:.2f} s), "
                        f"proxy CPU {cpu[target][-1]:.2f} s/GiB")  # fmt: skip
        finally:
            os.sched_setaffinity(0, own)
        nginx_rate = size / statistics.median(seconds["nginx"]) if "nginx" in seconds else None
        nginx_cpu = statistics.median(cpu["nginx"]) if "nginx" in cpu else None
        for target, _url, server, _header in targets:
            rate = size / statistics.median(seconds[target])
            growth = None
            if target.startswith("gateway"):
                growth = round((_rss_kb(server, "VmHWM:") - baseline[server.pid]) / 1024, 1)
            rows.append({
                "scenario": name, "target": target, "bytes": size, "rounds": rounds,
                "mb_per_s": round(rate / 1e6, 1), "seconds": [round(s, 3) for s in seconds[target]],
                "ratio_to_nginx": round(rate / nginx_rate, 2) if nginx_rate else None,
                "cpu_s_per_gib": round(statistics.median(cpu[target]), 2),
                "cpu_ratio_to_nginx": round(nginx_cpu / statistics.median(cpu[target]), 2) if nginx_cpu else None,
                "rss_growth_mib": growth,
            })  # fmt: skip
    return rows


def render(rows: list[dict]) -> str:
    lines = []
    for scenario in dict.fromkeys(row["scenario"] for row in rows):
        lines.append(f"[{scenario}]  (proxy pinned to core {PROXY_CPU}; client + upstream on core {LOAD_CPU})")
        lines.append(
            f"  {'target':<24}{'MB/s':>9}{'÷ nginx':>9}{'CPU s/GiB':>11}{'nginx CPU ÷ this':>18}{'RSS growth MiB':>16}"
        )
        for row in (r for r in rows if r["scenario"] == scenario):
            ratio = f"{row['ratio_to_nginx']:.2f}x" if row["ratio_to_nginx"] else "-"
            cpu_ratio = f"{row['cpu_ratio_to_nginx']:.2f}x" if row["cpu_ratio_to_nginx"] else "-"
            growth = f"{row['rss_growth_mib']:.1f}" if row["rss_growth_mib"] is not None else "-"
            lines.append(
                f"  {row['target']:<24}{row['mb_per_s']:>9,.0f}{ratio:>9}{row['cpu_s_per_gib']:>11.2f}"
                f"{cpu_ratio:>18}{growth:>16}"
            )
    return "\n".join(lines) + "\n"
