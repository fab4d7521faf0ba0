"""Real servers on loopback for the upstream client tests.

`backend` is an aiohttp.web app for the normal paths (it counts connections and concurrency);
`raw_server` starts an asyncio server whose handler writes hand-made bytes, for the bad-framing cases.
Every test runs on both loops: asyncio's own and uvloop (the one the gateway is deployed with).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import pytest
import uvloop
from aiohttp import web
from pytest_asyncio.plugin import LoopFactory

from gateway.upstream.base import Endpoint, Timeouts, UpstreamRequest
from gateway.upstream.lean import LeanClient


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, LoopFactory]:
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


BLOCK = bytes(range(256)) * 256  # 64 KiB


def endpoint(port: int, host: str = "127.0.0.1", scheme: str = "http") -> Endpoint:
    return Endpoint(url=f"{scheme}://{host}:{port}", scheme=scheme, host=host, port=port, base_path=b"")


def request(
    ep: Endpoint,
    method: str = "GET",
    target: bytes = b"/hello",
    body: AsyncIterator[bytes] | None = None,
    content_length: int | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    timeouts: Timeouts | None = None,
) -> UpstreamRequest:
    return UpstreamRequest(
        method=method,
        endpoint=ep,
        target=target,
        headers=[(b"host", ep.host_header)] + (headers or []),
        body=body,
        content_length=content_length,
        timeouts=timeouts or Timeouts(connect=2.0, read=5.0, total=10.0),
    )


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def repeat(block: bytes, times: int) -> AsyncIterator[bytes]:
    for _ in range(times):
        yield block


async def read_all(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join([chunk async for chunk in response.iter_body()])


@dataclass
class BackendStats:
    peers: set[tuple[str, int]] = field(default_factory=set)
    active: int = 0
    max_active: int = 0
    requests: int = 0


def backend_app(stats: BackendStats) -> web.Application:
    @web.middleware
    async def track(request: web.Request, handler):  # type: ignore[no-untyped-def]
        stats.peers.add(request.transport.get_extra_info("peername"))  # type: ignore[union-attr]
        stats.requests += 1
        stats.active += 1
        stats.max_active = max(stats.max_active, stats.active)
        try:
            return await handler(request)
        finally:
            stats.active -= 1

    async def hello(request: web.Request) -> web.StreamResponse:
        return web.Response(text="hello")

    async def echo(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        return web.Response(
            body=body,
            headers={
                "x-request-te": request.headers.get("transfer-encoding", "-"),
                "x-request-cl": request.headers.get("content-length", "-"),
            },
        )

    async def count(request: web.Request) -> web.StreamResponse:
        total = 0
        async for chunk in request.content.iter_any():
            total += len(chunk)
        return web.Response(text=str(total))

    async def stream(request: web.Request) -> web.StreamResponse:
        size = int(request.query["size"])
        response = web.StreamResponse()
        if request.query.get("chunked") != "1":
            response.content_length = size
        await response.prepare(request)
        while size > 0:
            block = BLOCK if size >= len(BLOCK) else BLOCK[:size]
            await response.write(block)
            size -= len(block)
        await response.write_eof()
        return response

    async def duplex(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        async for chunk in request.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response

    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(float(request.query.get("delay", "1")))
        return web.Response(text="late")

    async def slow_body(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 10
        await response.prepare(request)
        await response.write(b"12345")
        await asyncio.sleep(float(request.query.get("delay", "1")))
        await response.write(b"67890")
        return response

    async def peer(request: web.Request) -> web.StreamResponse:
        return web.Response(text=str(request.transport.get_extra_info("peername")[1]))  # type: ignore[union-attr]

    async def close(request: web.Request) -> web.StreamResponse:
        return web.Response(text="bye", headers={"connection": "close"})

    async def status(request: web.Request) -> web.StreamResponse:
        return web.Response(status=int(request.match_info["code"]))

    app = web.Application(middlewares=[track])
    app.router.add_get("/hello", hello)
    app.router.add_post("/echo", echo)
    app.router.add_post("/count", count)
    app.router.add_get("/stream", stream)
    app.router.add_post("/duplex", duplex)
    app.router.add_get("/slow", slow)
    app.router.add_get("/slow-body", slow_body)
    app.router.add_get("/close", close)
    app.router.add_get("/peer", peer)
    app.router.add_get("/status/{code}", status)
    return app


StartApp = Callable[..., Awaitable[int]]


@pytest.fixture
async def start_app() -> AsyncIterator[StartApp]:
    """start_app(app, **runner_kwargs) -> port; every runner is cleaned up after the test."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application, **kwargs: object) -> int:
        runner = web.AppRunner(app, **kwargs)  # type: ignore[arg-type]
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return int(runner.addresses[0][1])

    yield start
    for runner in runners:
        await runner.cleanup()


@dataclass
class Backend:
    endpoint: Endpoint
    stats: BackendStats


@pytest.fixture
async def backend(start_app: StartApp) -> Backend:
    stats = BackendStats()
    port = await start_app(backend_app(stats))
    return Backend(endpoint(port), stats)


@pytest.fixture
async def client() -> AsyncIterator[LeanClient]:
    lean = LeanClient()
    yield lean
    await lean.aclose()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawServer:
    endpoint: Endpoint
    connections: int = 0
    handled: list[asyncio.Task[None]] = field(default_factory=list)


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[Handler], Awaitable[RawServer]]]:
    """raw_server(handler) -> RawServer; the handler gets each connection's reader and writer."""
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []

    async def start(handler: Handler) -> RawServer:
        raw: RawServer

        async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            raw.connections += 1
            writers.append(writer)
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
        servers.append(server)
        raw = RawServer(endpoint(server.sockets[0].getsockname()[1]))
        return raw

    yield start
    for writer in writers:
        writer.close()
    for server in servers:
        server.close()
        await server.wait_closed()


async def read_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def canned(*responses: bytes, then_close: bool = True) -> Handler:
    """A handler answering successive requests (heads only) with the given bytes."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for response in responses:
            await read_head(reader)
            writer.write(response)
            await writer.drain()
        if not then_close:
            await reader.read()

    return handler
