"""GatewayHttpToolsProtocol behind a real uvicorn.Server, driven with raw sockets.

A recording ASGI app keeps every call and every receive() message, so each test can assert that a
refused request never reached the app, or that an aborted body surfaced as http.disconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn

from gateway.server.protocol import GatewayHttpToolsProtocol, ServerLimits, protocol_class

pytestmark = pytest.mark.timeout(20)

GET = b"GET /ok HTTP/1.1\r\nHost: example.test\r\n\r\n"
SLOW_GET = b"GET /slow HTTP/1.1\r\nHost: example.test\r\n\r\n"
SLOW_APP_SECONDS = 1.5  # the app's delay on /slow


@dataclass
class Call:
    scope: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    received: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)


class RecordingApp:
    """Reads the whole body (recording each message), then answers 200 with a JSON summary."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.called = asyncio.Event()

    async def first_message(self) -> Call:
        """The first call, once its first receive() has returned."""
        await asyncio.wait_for(self.called.wait(), 5)
        await asyncio.wait_for(self.calls[0].received.wait(), 5)
        return self.calls[0]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        call = Call(scope)
        self.calls.append(call)
        self.called.set()
        try:
            body = b""
            while True:
                message = await receive()
                call.messages.append(message)
                call.received.set()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
            if scope["path"] == "/slow":
                await asyncio.sleep(SLOW_APP_SECONDS)
            payload = json.dumps(
                {"method": scope["method"], "path": scope["path"], "body": body.decode("latin-1")}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))],
                }
            )
            await send({"type": "http.response.body", "body": payload})
        finally:
            call.done.set()


@dataclass
class Running:
    app: RecordingApp
    port: int

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)


@contextlib.asynccontextmanager
async def serve(limits: ServerLimits | None = None, **config: Any) -> AsyncIterator[Running]:
    app = RecordingApp()
    cfg = uvicorn.Config(
        app,
        http=protocol_class(limits or ServerLimits()),
        loop="uvloop",
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=2,
        **config,
    )
    server = uvicorn.Server(cfg)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Running(app, port)
    finally:
        server.should_exit = True
        await task


@dataclass
class Response:
    status: int
    headers: dict[bytes, bytes]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def read_response(reader: asyncio.StreamReader) -> Response:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status_line, *lines = head[:-4].split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    body = await asyncio.wait_for(reader.readexactly(int(headers.get(b"content-length", b"0"))), 5)
    return Response(int(status_line.split()[1]), headers, body)


async def exchange(running: Running, raw: bytes) -> tuple[Response, bool]:
    """Send raw bytes on a fresh connection; return the first response and whether the server then closed."""
    reader, writer = await running.connect()
    try:
        writer.write(raw)
        response = await read_response(reader)
        try:
            closed = await asyncio.wait_for(reader.read(), 0.3) == b""
        except TimeoutError:
            closed = False  # kept alive
        return response, closed
    finally:
        writer.close()
        await writer.wait_closed()


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), 5)


def assert_problem(response: Response, status: int) -> dict[str, Any]:
    assert response.status == status
    assert response.headers[b"content-type"] == b"application/problem+json"
    assert response.headers[b"connection"] == b"close"
    problem = response.json()
    assert problem["type"].startswith("urn:splp:problem:") and problem["status"] == status and problem["detail"]
    assert isinstance(problem["code"], int)
    assert problem["request_id"] == response.headers[b"x-request-id"].decode()
    return problem


# Normal traffic


async def test_get() -> None:
    assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")  # conftest's loop factory
    async with serve() as running:
        response, _ = await exchange(
            running, b"GET /ok?x=1 HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n"
        )
    assert response.status == 200
    assert response.json() == {"method": "GET", "path": "/ok", "body": ""}
    (call,) = running.app.calls
    assert call.scope["query_string"] == b"x=1"
    assert call.messages == [{"type": "http.request", "body": b"", "more_body": False}]


async def test_post_content_length() -> None:
    async with serve() as running:
        raw = b"POST /p HTTP/1.1\r\nHost: example.test:8080\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
        response, _ = await exchange(running, raw)
    assert response.status == 200
    assert response.json()["body"] == "hello"


async def test_post_chunked() -> None:
    async with serve() as running:
        raw = (
            b"POST /p HTTP/1.1\r\nHost: 10.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n"
        )
        response, _ = await exchange(running, raw)
    assert response.status == 200
    assert response.json()["body"] == "hello"
    assert running.app.calls[0].messages[-1]["more_body"] is False


async def test_keep_alive_two_requests_one_connection() -> None:
    async with serve() as running:
        reader, writer = await running.connect()
        writer.write(GET)
        first = await read_response(reader)
        writer.write(b"POST /second HTTP/1.1\r\nHost: [::1]:8000\r\nContent-Length: 2\r\n\r\nhi")
        second = await read_response(reader)
        writer.close()
        await writer.wait_closed()
    assert (first.status, second.status) == (200, 200)
    assert second.json() == {"method": "POST", "path": "/second", "body": "hi"}
    assert len(running.app.calls) == 2


async def test_http10_without_host_is_allowed() -> None:
    async with serve() as running:
        response, closed = await exchange(running, b"GET /ok HTTP/1.0\r\n\r\n")
    assert response.status == 200 and closed


async def test_data_after_connection_close_is_dropped() -> None:
    """uvicorn turns lenient_data_after_close on; with it off, the request is answered and the rest dropped
    (no 400 written behind the response)."""
    async with serve() as running:
        raw = b"GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGARBAGE / HTTP/1.1\r\n\r\n"
        reader, writer = await running.connect()
        writer.write(raw)
        data = await closed_by_server(reader)
        writer.close()
        await writer.wait_closed()
    assert data.startswith(b"HTTP/1.1 200 ") and data.count(b"HTTP/1.1") == 1
    assert len(running.app.calls) == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /ok HTTP/1.1\nHost: a\n\n",
        b"GET /ok HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n",
        b"GET /ok HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
        b"GET /ok HTTP/1.7\r\nHost: a\r\n\r\n",
        b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n",
        b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n",
    ],
    ids=["lf-only", "obs-fold", "ctl-in-value", "bad-version", "space-after-chunk-size", "no-crlf-after-chunk"],
)
async def test_strict_parsing(raw: bytes) -> None:
    async with serve() as running:
        response, closed = await exchange(running, raw)
        await asyncio.sleep(0.05)
    assert_problem(response, 400)
    assert closed
    assert running.app.calls == []


# Header deadline


async def test_slowloris_is_cut_off_at_the_header_deadline() -> None:
    async with serve(ServerLimits(header_timeout=1.0)) as running:
        reader, writer = await running.connect()
        head = b"GET /slow HTTP/1.1\r\nHost: example.test\r\nX-Padding: " + b"a" * 100 + b"\r\n\r\n"

        async def trickle() -> None:
            for byte in head:
                writer.write(bytes([byte]))
                await asyncio.sleep(0.2)

        trickler = asyncio.create_task(trickle())
        started = time.monotonic()
        data = await closed_by_server(reader)
        elapsed = time.monotonic() - started
        trickler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await trickler
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    assert data.startswith(b"HTTP/1.1 408 ")
    assert b'"status":408' in data
    assert 0.8 <= elapsed < 1.8
    assert running.app.calls == []


async def test_header_deadline_applies_to_each_keep_alive_request() -> None:
    async with serve(ServerLimits(header_timeout=1.0)) as running:
        reader, writer = await running.connect()
        started = time.monotonic()
        data = await closed_by_server(reader)  # the first request's clock starts at connect
        elapsed = time.monotonic() - started
        writer.close()
        await writer.wait_closed()
    assert data == b""  # never sent a byte: closed without a response
    assert 0.8 <= elapsed < 1.8

    async with serve(ServerLimits(header_timeout=1.0)) as running:
        reader, writer = await running.connect()
        writer.write(GET)
        assert (await read_response(reader)).status == 200
        await asyncio.sleep(0.5)  # idle keep-alive time does not count against the next head
        writer.write(b"GET /second HTTP/1.1\r\n")
        started = time.monotonic()
        data = await closed_by_server(reader)
        elapsed = time.monotonic() - started
        writer.close()
        await writer.wait_closed()
    assert data.startswith(b"HTTP/1.1 408 ")
    assert 0.8 <= elapsed < 1.8
    assert len(running.app.calls) == 1


# Header caps


async def test_header_bytes_cap() -> None:
    async with serve(ServerLimits(max_header_bytes=1024)) as running:
        raw = b"GET /ok HTTP/1.1\r\nHost: example.test\r\nX-Big: " + b"a" * 1100 + b"\r\n\r\n"
        response, closed = await exchange(running, raw)
    problem = assert_problem(response, 431)
    assert problem["title"] == "Request Header Fields Too Large"
    assert closed
    assert running.app.calls == []


async def test_overlong_target_is_414_with_its_own_limit() -> None:
    """The target has its own cap (414), separate from the header bytes (431); split reads included."""
    async with serve(ServerLimits(max_header_bytes=1024, max_url_bytes=2048)) as running:
        fits, _ = await exchange(running, b"GET /" + b"u" * 1500 + b" HTTP/1.1\r\nHost: a\r\n\r\n")
        reader, writer = await running.connect()
        writer.write(b"GET /?q=")
        for _ in range(5):
            writer.write(b"u" * 500)
            await writer.drain()
            await asyncio.sleep(0.02)
        response = await read_response(reader)
        writer.close()
        await writer.wait_closed()
    assert fits.status == 200
    problem = assert_problem(response, 414)
    assert problem["code"] == 800414 and "2048" in problem["detail"]
    assert len(running.app.calls) == 1


async def test_unfinished_header_value_is_bounded() -> None:
    """One endless header value sent in pieces: refused before the head ends, not buffered forever."""
    async with serve(ServerLimits(max_header_bytes=1024, max_headers=10)) as running:
        reader, writer = await running.connect()
        writer.write(b"GET /ok HTTP/1.1\r\nHost: a\r\nX-Endless: ")
        for _ in range(3):  # 1500 bytes of one value, in separate reads: past 1024 + separators
            await asyncio.sleep(0.05)
            writer.write(b"a" * 500)
        response = await read_response(reader)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    assert_problem(response, 431)
    assert running.app.calls == []


async def test_header_count_cap() -> None:
    async with serve(ServerLimits(max_headers=10)) as running:
        fields = b"".join(b"X-H%d: v\r\n" % i for i in range(10))  # 10 + Host = 11
        response, closed = await exchange(running, b"GET /ok HTTP/1.1\r\nHost: a\r\n" + fields + b"\r\n")
        at_cap, at_cap_closed = await exchange(
            running, b"GET /ok HTTP/1.1\r\nHost: a\r\n" + fields.split(b"\r\n", 1)[1] + b"\r\n"
        )
    assert_problem(response, 431)
    assert closed
    assert at_cap.status == 200 and not at_cap_closed  # kept alive
    assert len(running.app.calls) == 1


# Framing


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        b"Content-Length: 5\r\nContent-Length: 6\r\n",
        b"Transfer-Encoding: gzip\r\n",  # rejected only after the head is complete
    ],
    ids=["cl-te", "te-cl", "duplicate-cl", "invalid-te"],
)
async def test_ambiguous_framing_is_refused_before_the_app(headers: bytes) -> None:
    async with serve() as running:
        raw = b"POST /p HTTP/1.1\r\nHost: a\r\n" + headers + b"\r\nhello\r\n0\r\n\r\n"
        response, closed = await exchange(running, raw)
        await asyncio.sleep(0.05)
    assert_problem(response, 400)
    assert closed
    assert running.app.calls == []


async def test_bad_chunk_in_the_same_read_never_reaches_the_app() -> None:
    async with serve() as running:
        raw = b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n"
        response, closed = await exchange(running, raw)
        await asyncio.sleep(0.05)
    assert_problem(response, 400)
    assert closed
    assert running.app.calls == []


async def test_bad_chunk_mid_body_surfaces_as_disconnect() -> None:
    async with serve() as running:
        reader, writer = await running.connect()
        writer.write(b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        call = await running.app.first_message()
        writer.write(b"zz\r\nmore")
        data = await closed_by_server(reader)
        await asyncio.wait_for(call.done.wait(), 5)
        writer.close()
        await writer.wait_closed()
    assert data.startswith(b"HTTP/1.1 400 ")
    assert call.messages == [
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.disconnect"},
    ]


@pytest.mark.parametrize("how", ["close", "half-close"])
async def test_client_disconnect_mid_body_surfaces_as_disconnect(how: str) -> None:
    async with serve() as running:
        reader, writer = await running.connect()
        writer.write(b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        call = await running.app.first_message()
        if how == "close":
            writer.close()
        else:
            writer.write_eof()
        await asyncio.wait_for(call.done.wait(), 5)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    assert call.messages == [
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.disconnect"},
    ]


# Host


@pytest.mark.parametrize(
    "host_headers",
    [
        b"",
        b"Host: a\r\nHost: a\r\n",
        b"Host: a\r\nHost: b\r\n",
        b"Host: \r\n",
        b"Host: bad/host\r\n",
        b"Host: a:port\r\n",
        b"Host: user@a\r\n",
    ],
    ids=["missing", "duplicate-same", "duplicate-different", "empty", "slash", "bad-port", "userinfo"],
)
async def test_bad_host_is_refused_before_the_app(host_headers: bytes) -> None:
    async with serve() as running:
        response, closed = await exchange(running, b"GET /ok HTTP/1.1\r\n" + host_headers + b"\r\n")
    assert_problem(response, 400)
    assert closed
    assert running.app.calls == []


@pytest.mark.parametrize(
    "host",
    [b"example.test", b"example.test:8080", b"10.0.0.1", b"[::1]:8000", b"my_host.internal.", b"a.b \t"],
)
async def test_valid_hosts(host: bytes) -> None:
    async with serve() as running:
        response, _ = await exchange(running, b"GET /ok HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert response.status == 200


async def test_host_validity_is_checked_per_request_on_a_keep_alive_connection() -> None:
    async with serve() as running:
        reader, writer = await running.connect()
        writer.write(GET + GET)
        assert (await read_response(reader)).status == 200
        assert (await read_response(reader)).status == 200
        writer.write(b"GET /ok HTTP/1.1\r\nHost: example.test\r\nHost: example.test\r\n\r\n")
        assert_problem(await read_response(reader), 400)
        writer.close()
        await writer.wait_closed()
    assert len(running.app.calls) == 2


async def test_expect_100_continue_still_works() -> None:
    async with serve() as running:
        reader, writer = await running.connect()
        writer.write(b"POST /p HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(b"hello")
        response = await read_response(reader)
        writer.close()
        await writer.wait_closed()
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert response.json()["body"] == "hello"


# A refusal never writes into a response in flight (pipelining)


async def test_garbage_pipelined_behind_a_request_in_flight() -> None:
    async with serve() as running:
        reader, writer = await running.connect()
        writer.write(SLOW_GET + b"GARBAGE\r\n\r\n")
        data = await closed_by_server(reader)
        writer.close()
        await writer.wait_closed()
    # The slow response arrives intact, then the connection closes: no 400 spliced into it or after it.
    assert data.startswith(b"HTTP/1.1 200 ") and data.count(b"HTTP/1.1 ") == 1
    assert data.endswith(b'"path": "/slow", "body": ""}')
    assert len(running.app.calls) == 1


async def test_header_deadline_while_a_response_is_in_flight() -> None:
    async with serve(ServerLimits(header_timeout=1.0)) as running:
        reader, writer = await running.connect()
        writer.write(SLOW_GET + b"GET /next HTTP/1.1\r\n")  # the next head never completes
        started = time.monotonic()
        data = await closed_by_server(reader)
        elapsed = time.monotonic() - started
        writer.close()
        await writer.wait_closed()
    assert data.startswith(b"HTTP/1.1 200 ") and data.count(b"HTTP/1.1 ") == 1
    assert SLOW_APP_SECONDS - 0.2 <= elapsed < SLOW_APP_SECONDS + 1
    assert [call.scope["path"] for call in running.app.calls] == ["/slow"]


async def test_bad_body_of_a_pipelined_request_does_not_touch_the_one_in_flight() -> None:
    async with serve() as running:
        reader, writer = await running.connect()
        writer.write(SLOW_GET + b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        data = await closed_by_server(reader)
        writer.close()
        await writer.wait_closed()
    assert data.startswith(b"HTTP/1.1 200 ") and data.count(b"HTTP/1.1 ") == 1
    assert [call.scope["path"] for call in running.app.calls] == ["/slow"]


# No protocol switch


H2C_UPGRADE = (
    b"GET /up HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
)
WS_UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


@pytest.mark.parametrize("ws", ["none", "auto"])
@pytest.mark.parametrize("upgrade", [H2C_UPGRADE, WS_UPGRADE], ids=["h2c", "websocket"])
async def test_upgrade_is_served_as_plain_http(ws: str, upgrade: bytes) -> None:
    async with serve(ws=ws) as running:
        reader, writer = await running.connect()
        writer.write(upgrade + GET)  # the next request in the same read stays HTTP/1.1
        first = await read_response(reader)
        second = await read_response(reader)
        writer.write(GET)
        third = await read_response(reader)
        writer.close()
        await writer.wait_closed()
    assert (first.status, second.status, third.status) == (200, 200, 200)
    assert [call.scope["type"] for call in running.app.calls] == ["http"] * 3
    names = [name for name, _ in running.app.calls[0].scope["headers"]]
    assert b"upgrade" not in names  # named in Connection: hop-by-hop, removed before the app


async def test_upgrade_with_a_body_is_refused() -> None:
    """httptools skips an upgrade request's body; parsing it as the next request would be smuggling."""
    async with serve() as running:
        smuggled = b"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n"
        raw = b"POST /up HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: %d\r\n\r\n%s" % (
            len(smuggled),
            smuggled,
        )
        response, closed = await exchange(running, raw)
        await asyncio.sleep(0.05)
    assert_problem(response, 400)
    assert closed
    assert running.app.calls == []


async def test_http2_preface_is_refused() -> None:
    async with serve() as running:
        response, closed = await exchange(running, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert_problem(response, 400)
    assert closed and running.app.calls == []


# Class binding


def test_protocol_class_binds_limits() -> None:
    limits = ServerLimits(header_timeout=2.5, max_header_bytes=2048, max_headers=7)
    bound = protocol_class(limits)
    assert issubclass(bound, GatewayHttpToolsProtocol)
    assert bound.limits == limits  # type: ignore[attr-defined]
    assert GatewayHttpToolsProtocol.limits == ServerLimits()
    assert "More than 7 header fields." in bound._too_many_headers[1]  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        ServerLimits(header_timeout=0)
