"""A small HTTP/1.1 load generator that can present a client certificate (wrk cannot): keep-alive or new-connection.

    python -m bench.tlsload --url https://127.0.0.1:PORT/bench/v1/hello --connections 50 --duration 5 \
        [--ca ca.pem] [--cert client.pem --key client.key] [--new-connections]

Prints one JSON line: rps, p50_ms, p99_ms, requests, errors. asyncio Protocols on uvloop, one request in
flight per connection (like wrk); responses must carry Content-Length (the bench upstream's do). With
--new-connections every request opens a connection, does a full handshake (no session resumption) and sends
`Connection: close`. The bench runs it for plain and TLS targets alike, so their ratio is the tool's
overhead-free comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import statistics
import time
from urllib.parse import urlsplit

import uvloop


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line[15:])
    return 0


class _Conn(asyncio.Protocol):
    """Sends the request, reads one response by Content-Length, records latency, repeats (keep-alive)."""

    def __init__(self, request: bytes, stats: _Stats, once: bool) -> None:
        self.request = request
        self.stats = stats
        self.once = once
        self.buffer = bytearray()
        self.need = -1
        self.sent_at = 0.0
        self.ok = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport
        self._send()

    def _send(self) -> None:
        if self.stats.stopping:
            if self.transport is not None:
                self.transport.close()
            return
        self.sent_at = time.perf_counter()
        if self.transport is not None:
            self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.need < 0:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.buffer[:end]).lower()
                del self.buffer[: end + 4]
                self.need = _content_length(head)
                self.ok = head[9:10] == b"2"
            if len(self.buffer) < self.need:
                return
            del self.buffer[: self.need]
            self.need = -1
            self.stats.record(time.perf_counter() - self.sent_at, self.ok)
            if self.once:
                if self.transport is not None:
                    self.transport.close()
                return
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


class _Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.stopping = False

    def record(self, seconds: float, ok: bool) -> None:
        self.latencies.append(seconds)
        if not ok:
            self.errors += 1


async def _run(args: argparse.Namespace) -> dict[str, object]:
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)
    context: ssl.SSLContext | None = None
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=args.ca)
        context.check_hostname = False
        if not args.ca:
            context.verify_mode = ssl.CERT_NONE
        if args.cert:
            context.load_cert_chain(args.cert, args.key)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    close = b"connection: close\r\n" if args.new_connections else b""
    request = f"GET {path} HTTP/1.1\r\nhost: {host}:{port}\r\n".encode() + close + b"\r\n"
    loop = asyncio.get_running_loop()
    stats = _Stats()
    failures = 0

    async def keep_alive() -> None:
        nonlocal failures
        try:
            _, conn = await loop.create_connection(lambda: _Conn(request, stats, False), host, port, ssl=context)
            await conn.done
        except OSError:
            failures += 1

    async def new_connections() -> None:
        nonlocal failures
        while not stats.stopping:
            try:
                _, conn = await loop.create_connection(lambda: _Conn(request, stats, True), host, port, ssl=context)
                await conn.done
            except OSError:
                failures += 1

    worker = new_connections if args.new_connections else keep_alive
    tasks = [asyncio.create_task(worker()) for _ in range(args.connections)]
    await asyncio.sleep(args.warmup)
    stats.latencies.clear()
    stats.errors = 0
    started = time.perf_counter()
    await asyncio.sleep(args.duration)
    elapsed = time.perf_counter() - started
    measured = list(stats.latencies)
    errors = stats.errors + failures
    stats.stopping = True
    await asyncio.wait(tasks, timeout=5)
    latencies = sorted(measured)
    return {
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 3) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 3) if latencies else None,
        "requests": len(latencies),
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tlsload", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--ca", default=None)
    parser.add_argument("--cert", default=None)
    parser.add_argument("--key", default=None)
    parser.add_argument("--new-connections", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(uvloop.run(_run(args))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
