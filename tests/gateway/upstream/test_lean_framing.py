"""LeanClient refuses responses with bad framing (UpstreamProtocolError -> the gateway answers 502),
and resets the upstream connection when the request body breaks off."""

from __future__ import annotations

import asyncio

import pytest

from gateway.upstream.errors import ClientBodyAborted, UpstreamProtocolError
from gateway.upstream.lean import LeanClient

from .conftest import canned, chunks, read_all, read_head, request

OK = b"HTTP/1.1 200 OK\r\n"

BAD_RESPONSES = [
    pytest.param(OK + b"content-length: 5\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", id="cl+te"),
    pytest.param(OK + b"transfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n", id="te+cl"),
    pytest.param(OK + b"content-length: 5\r\ncontent-length: 6\r\n\r\nhello!", id="two-different-cl"),
    pytest.param(OK + b"content-length: 5\r\ncontent-length: 5\r\n\r\nhello", id="two-identical-cl-refused"),
    pytest.param(OK + b"content-length: 5, 5\r\n\r\nhello", id="cl-list"),
    pytest.param(OK + b"content-length: -1\r\n\r\n", id="negative-cl"),
    pytest.param(b"HTTP/1.1 2x0 OK\r\ncontent-length: 0\r\n\r\n", id="status-not-a-number"),
    pytest.param(b"HTTX/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", id="not-http"),
    pytest.param(b"HTTP/1.1 1000 OK\r\ncontent-length: 0\r\n\r\n", id="status-four-digits"),
    pytest.param(b"HTTP/1.1 099 OK\r\ncontent-length: 0\r\n\r\n", id="status-below-100"),
    pytest.param(b"HTTP/1.1 601 Odd\r\ncontent-length: 0\r\n\r\n", id="status-above-599"),
    pytest.param(b"garbage\r\n\r\n", id="garbage"),
    pytest.param(OK + b"x-a: a\x00b\r\ncontent-length: 0\r\n\r\n", id="nul-in-value"),
    pytest.param(OK + b"x-a: a\rb\r\ncontent-length: 0\r\n\r\n", id="cr-in-value"),
    pytest.param(OK + b"x-a: a\nb: c\r\ncontent-length: 0\r\n\r\n", id="bare-lf"),
    pytest.param(OK + b"x-a: a\r\n folded\r\ncontent-length: 0\r\n\r\n", id="obs-fold"),
    pytest.param(OK + b"x a: b\r\ncontent-length: 0\r\n\r\n", id="space-in-name"),
    pytest.param(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n", id="101"),
    pytest.param(OK + b"transfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", id="bad-chunk-size"),
]


@pytest.mark.parametrize("raw", BAD_RESPONSES)
async def test_bad_framing_is_refused(client: LeanClient, raw_server, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    server = await raw_server(canned(raw, then_close=False))
    with pytest.raises(UpstreamProtocolError):
        response = await client.send(request(server.endpoint))
        await read_all(response)  # a bad chunk size is found in the body
    assert client._total == 0


async def test_headers_larger_than_limit(raw_server) -> None:  # type: ignore[no-untyped-def]
    lean = LeanClient(max_response_header_bytes=1024)
    try:
        fits = OK + b"x-a: " + b"a" * 900 + b"\r\ncontent-length: 0\r\n\r\n"
        too_big = OK + b"x-a: " + b"a" * 1100 + b"\r\ncontent-length: 0\r\n\r\n"
        many = OK + b"".join(b"x-%d: %s\r\n" % (i, b"v" * 50) for i in range(40)) + b"content-length: 0\r\n\r\n"
        server = await raw_server(canned(fits, then_close=False))
        response = await lean.send(request(server.endpoint))
        await response.release()
        for raw in (too_big, many):
            server = await raw_server(canned(raw, then_close=False))
            with pytest.raises(UpstreamProtocolError, match="exceed 1024 bytes"):
                await lean.send(request(server.endpoint))
    finally:
        await lean.aclose()


async def test_endless_header_in_small_pieces_is_cut(raw_server) -> None:  # type: ignore[no-untyped-def]
    """A header that never ends is refused after about the limit, not buffered without bound."""
    sent = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await read_head(reader)
        writer.write(OK + b"x-endless: ")
        while sent < 10_000_000:
            writer.write(b"a" * 1000)
            sent += 1000
            await writer.drain()
            await asyncio.sleep(0)

    lean = LeanClient(max_response_header_bytes=4096)
    try:
        server = await raw_server(handler)
        with pytest.raises(UpstreamProtocolError, match="exceed 4096 bytes"):
            await lean.send(request(server.endpoint))
        assert sent < 1_000_000
    finally:
        await lean.aclose()


# ---- request body aborts --------------------------------------------------------------------------


async def capture_request(reader: asyncio.StreamReader, seen: dict[str, object]) -> None:
    """Reads one request until the peer goes away, recording what arrived and how it ended."""
    seen["head"] = await read_head(reader)
    body = b""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                seen["end"] = "eof"
                break
            body += data
    except ConnectionResetError:
        seen["end"] = "reset"
    seen["body"] = body


@pytest.mark.parametrize("content_length", [None, 1_000_000], ids=["chunked", "content-length"])
async def test_aborted_request_body_resets_upstream(client: LeanClient, raw_server, content_length) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}
    done = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await capture_request(reader, seen)
        finally:
            done.set()

    async def body():  # type: ignore[no-untyped-def]
        yield b"x" * 1000
        await asyncio.sleep(0.05)  # the first part is on the wire
        yield b"y" * 1000
        raise ClientBodyAborted("client went away")

    server = await raw_server(handler)
    with pytest.raises(ClientBodyAborted):
        await client.send(request(server.endpoint, "POST", b"/up", body(), content_length=content_length))
    await asyncio.wait_for(done.wait(), 5)
    assert seen["end"] == "reset"
    received = seen["body"]
    assert isinstance(received, bytes)
    assert not received.endswith(b"0\r\n\r\n")  # never a chunked terminator
    assert len(received.replace(b"3e8\r\n", b"").replace(b"\r\n", b"")) <= 2000 < 1_000_000
    assert client._total == 0


@pytest.mark.parametrize(
    ("parts", "content_length"),
    [((b"abc", b"def"), 4), ((b"ab",), 5)],
    ids=["longer", "shorter"],
)
async def test_body_not_matching_content_length_resets(client: LeanClient, raw_server, parts, content_length) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}
    done = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await capture_request(reader, seen)
        finally:
            done.set()

    server = await raw_server(handler)
    with pytest.raises(ClientBodyAborted, match="content-length"):
        await client.send(request(server.endpoint, "POST", b"/up", chunks(*parts), content_length=content_length))
    await asyncio.wait_for(done.wait(), 5)
    assert seen["end"] == "reset"
    assert len(seen["body"]) <= content_length  # type: ignore[arg-type]


async def test_cancelled_send_resets_upstream(client: LeanClient, raw_server) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}
    done = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await capture_request(reader, seen)
        finally:
            done.set()

    async def stalled():  # type: ignore[no-untyped-def]
        yield b"part"
        await asyncio.sleep(10)
        yield b"never"

    server = await raw_server(handler)
    task = asyncio.create_task(client.send(request(server.endpoint, "POST", b"/up", stalled(), content_length=9)))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(done.wait(), 5)
    assert seen["end"] == "reset"
    assert seen["body"] == b"part"
    assert client._total == 0
