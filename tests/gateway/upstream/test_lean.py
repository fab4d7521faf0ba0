"""LeanClient against real loopback servers: requests, keep-alive, timeouts, errors."""

from __future__ import annotations

import asyncio
import socket

import pytest

from gateway.upstream.base import Timeouts
from gateway.upstream.errors import UpstreamBodyError, UpstreamConnectError, UpstreamProtocolError, UpstreamTimeout
from gateway.upstream.lean import LeanClient, request_head

from .conftest import Backend, canned, chunks, endpoint, read_all, read_head, request

# ---- requests and responses ---------------------------------------------------------------------


async def test_get(client: LeanClient, backend: Backend) -> None:
    response = await client.send(request(backend.endpoint))
    assert response.status == 200
    headers = dict(response.headers)
    assert headers[b"content-length"] == b"5"
    assert all(name == name.lower() for name, _ in response.headers)
    assert await read_all(response) == b"hello"
    await response.release()


async def test_post_with_content_length(client: LeanClient, backend: Backend) -> None:
    body = chunks(b"hello ", b"", b"world")
    response = await client.send(request(backend.endpoint, "POST", b"/echo", body, content_length=11))
    assert await read_all(response) == b"hello world"
    assert dict(response.headers)[b"x-request-cl"] == b"11"
    assert dict(response.headers)[b"x-request-te"] == b"-"
    await response.release()


async def test_post_chunked(client: LeanClient, backend: Backend) -> None:
    body = chunks(b"a" * 1000, b"", b"b" * 70000)  # the empty chunk must not end the body early
    response = await client.send(request(backend.endpoint, "POST", b"/echo", body))
    assert await read_all(response) == b"a" * 1000 + b"b" * 70000
    assert dict(response.headers)[b"x-request-te"] == b"chunked"
    await response.release()


async def test_empty_body_with_content_length_zero(client: LeanClient, backend: Backend) -> None:
    response = await client.send(request(backend.endpoint, "POST", b"/echo", chunks(), content_length=0))
    assert await read_all(response) == b""
    assert dict(response.headers)[b"x-request-cl"] == b"0"
    await response.release()


async def test_chunked_response(client: LeanClient, backend: Backend) -> None:
    response = await client.send(request(backend.endpoint, target=b"/stream?size=200000&chunked=1"))
    assert dict(response.headers)[b"transfer-encoding"] == b"chunked"
    body = await read_all(response)
    assert len(body) == 200000
    await response.release()
    await (await client.send(request(backend.endpoint))).release()
    assert len(backend.stats.peers) == 1  # the chunked response ended cleanly: reused


def test_request_head_framing() -> None:
    ep = endpoint(8080)
    caller_framing = [(b"content-length", b"99"), (b"transfer-encoding", b"gzip"), (b"x-a", b"1")]
    get = request_head(request(ep, headers=caller_framing))
    assert get == b"GET /hello HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nx-a: 1\r\n\r\n"
    post = request_head(request(ep, "POST", b"/x", chunks(), content_length=3))
    assert post.endswith(b"\r\ncontent-length: 3\r\n\r\n")
    chunked = request_head(request(ep, "PURGE", b"/x", chunks()))
    assert chunked.startswith(b"PURGE /x HTTP/1.1\r\n")
    assert chunked.endswith(b"\r\ntransfer-encoding: chunked\r\n\r\n")
    with pytest.raises(UpstreamProtocolError):
        request_head(request(ep, "GE T"))


async def test_request_bytes_on_the_wire(client: LeanClient, raw_server) -> None:  # type: ignore[no-untyped-def]
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_head(reader))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        seen.append(await read_head(reader))
        seen.append(await reader.readexactly(len(b"3\r\nabc\r\n0\r\n\r\n")))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        await reader.read()

    server = await raw_server(handler)
    ep = server.endpoint
    response = await client.send(request(ep, headers=[(b"x-trace", b"t1")]))
    await response.release()
    response = await client.send(request(ep, "PUT", b"/up?x=1", chunks(b"abc")))
    await response.release()
    assert seen[0] == b"GET /hello HTTP/1.1\r\nhost: " + ep.host_header + b"\r\nx-trace: t1\r\n\r\n"
    assert seen[1] == b"PUT /up?x=1 HTTP/1.1\r\nhost: " + ep.host_header + b"\r\ntransfer-encoding: chunked\r\n\r\n"
    assert seen[2] == b"3\r\nabc\r\n0\r\n\r\n"
    assert server.connections == 1


async def test_head_204_304_have_no_body(client: LeanClient, backend: Backend) -> None:
    for method, target in (("HEAD", b"/hello"), ("GET", b"/status/204"), ("GET", b"/status/304")):
        response = await client.send(request(backend.endpoint, method, target))
        assert await read_all(response) == b""
        await response.release()
    response = await client.send(request(backend.endpoint))
    assert await read_all(response) == b"hello"
    await response.release()
    assert len(backend.stats.peers) == 1  # HEAD with content-length: 5 left the connection clean


async def test_interim_responses_are_skipped(client: LeanClient, raw_server) -> None:  # type: ignore[no-untyped-def]
    server = await raw_server(
        canned(
            b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\nx: y\r\n\r\nok"
        )
    )
    response = await client.send(request(server.endpoint))
    assert response.status == 200
    assert response.headers == [(b"content-length", b"2"), (b"x", b"y")]
    assert await read_all(response) == b"ok"
    await response.release()


async def test_body_until_eof(client: LeanClient, raw_server) -> None:  # type: ignore[no-untyped-def]
    server = await raw_server(canned(b"HTTP/1.1 200 OK\r\n\r\nuntil the end"))
    response = await client.send(request(server.endpoint))
    assert await read_all(response) == b"until the end"
    await response.release()
    response = await client.send(request(server.endpoint))  # the first connection ended: a new one
    assert await read_all(response) == b"until the end"
    await response.release()
    assert server.connections == 2


async def test_trailers_are_dropped(client: LeanClient, raw_server) -> None:  # type: ignore[no-untyped-def]
    server = await raw_server(
        canned(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nx-trailer: 1\r\n\r\n")
    )
    response = await client.send(request(server.endpoint))
    assert await read_all(response) == b"abc"
    assert response.headers == [(b"transfer-encoding", b"chunked")]
    await response.release()


async def test_https_to_a_plain_backend_fails_the_handshake(client: LeanClient, backend: Backend) -> None:
    # https through the lean client is exercised end to end in tests/policies/mtls (a backend requiring mTLS)
    with pytest.raises(UpstreamConnectError, match="TLS handshake with upstream"):
        await client.send(request(endpoint(backend.endpoint.port, scheme="https")))


# ---- keep-alive -----------------------------------------------------------------------------------


async def test_keep_alive_reuses_one_connection(client: LeanClient, backend: Backend) -> None:
    for _ in range(10):
        response = await client.send(request(backend.endpoint))
        assert await read_all(response) == b"hello"
        await response.release()
    assert backend.stats.requests == 10
    assert len(backend.stats.peers) == 1


async def test_unread_body_closes_the_connection(client: LeanClient, backend: Backend) -> None:
    response = await client.send(request(backend.endpoint, target=b"/stream?size=1000000"))
    await response.release()  # body not read: the connection cannot be reused
    response = await client.send(request(backend.endpoint))
    assert await read_all(response) == b"hello"
    await response.release()
    assert len(backend.stats.peers) == 2


async def test_connection_close_is_honoured(client: LeanClient, backend: Backend) -> None:
    for target in (b"/close", b"/hello", b"/hello"):
        response = await client.send(request(backend.endpoint, target=target))
        await read_all(response)
        await response.release()
    assert len(backend.stats.peers) == 2


async def test_http10_keep_alive_rules(client: LeanClient, raw_server) -> None:  # type: ignore[no-untyped-def]
    server = await raw_server(
        canned(
            b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 1\r\n\r\na",
            b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nb",
            then_close=False,
        )
    )
    for expected in (b"a", b"b"):
        response = await client.send(request(server.endpoint))
        assert await read_all(response) == expected
        await response.release()
    assert server.connections == 1  # 1.0 + keep-alive was reused
    assert client._total == 0  # plain 1.0 was closed


async def test_idle_connection_closed_by_server_is_not_used(client: LeanClient, start_app) -> None:  # type: ignore[no-untyped-def]
    from .conftest import BackendStats, backend_app

    stats = BackendStats()
    port = await start_app(backend_app(stats), keepalive_timeout=0.05)
    ep = endpoint(port)
    for _ in range(3):
        response = await client.send(request(ep))
        assert await read_all(response) == b"hello"
        await response.release()
        await asyncio.sleep(0.3)  # the server closes the idle connection meanwhile
    assert len(stats.peers) == 3


async def test_keep_alive_race_is_retried_once(client: LeanClient, raw_server) -> None:  # type: ignore[no-untyped-def]
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = server.connections == 1
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        if first:
            await read_head(reader)  # the next request arrives just as the server gives up
            writer.transport.abort()
            return
        await reader.read()

    server = await raw_server(handler)
    for _ in range(2):
        response = await client.send(request(server.endpoint))
        assert await read_all(response) == b"ok"
        await response.release()
    assert server.connections == 2


async def test_keep_alive_race_with_body_is_not_retried(client: LeanClient, raw_server) -> None:  # type: ignore[no-untyped-def]
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await read_head(reader)
        writer.transport.abort()

    server = await raw_server(handler)
    response = await client.send(request(server.endpoint))
    await read_all(response)
    await response.release()
    with pytest.raises(UpstreamBodyError, match="closed the connection"):
        response = await client.send(request(server.endpoint, "POST", b"/x", chunks(b"abc"), content_length=3))
    assert server.connections == 1


async def test_idle_connections_expire(backend: Backend) -> None:
    lean = LeanClient(keepalive_timeout=0.1)
    try:
        response = await lean.send(request(backend.endpoint))
        await read_all(response)
        await response.release()
        assert lean._total == 1
        await asyncio.sleep(0.35)
        assert lean._total == 0  # the sweep closed it
        response = await lean.send(request(backend.endpoint))
        await read_all(response)
        await response.release()
        assert len(backend.stats.peers) == 2
    finally:
        await lean.aclose()


# ---- connect errors and timeouts ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused(client: LeanClient) -> None:
    port = free_port()
    with pytest.raises(UpstreamConnectError) as caught:
        await client.send(request(endpoint(port)))
    assert f"127.0.0.1:{port}" in caught.value.cause
    assert "refused" in caught.value.cause.lower()
    assert client._total == 0


async def test_dns_failure(client: LeanClient) -> None:
    with pytest.raises(UpstreamConnectError, match="no-such-host.invalid:80"):
        await client.send(request(endpoint(80, host="no-such-host.invalid")))


async def test_read_timeout_waiting_for_headers(client: LeanClient, backend: Backend) -> None:
    timeouts = Timeouts(connect=1, read=0.2, total=5)
    with pytest.raises(UpstreamTimeout) as caught:
        await client.send(request(backend.endpoint, target=b"/slow?delay=0.6", timeouts=timeouts))
    assert caught.value.phase == "read"
    assert client._total == 0


async def test_total_timeout_waiting_for_headers(client: LeanClient, backend: Backend) -> None:
    timeouts = Timeouts(connect=1, read=5, total=0.3)
    with pytest.raises(UpstreamTimeout) as caught:
        await client.send(request(backend.endpoint, target=b"/slow?delay=0.6", timeouts=timeouts))
    assert caught.value.phase == "total"


async def test_read_timeout_in_body(client: LeanClient, backend: Backend) -> None:
    timeouts = Timeouts(connect=1, read=0.2, total=0.5)
    response = await client.send(request(backend.endpoint, target=b"/slow-body?delay=1", timeouts=timeouts))
    received = b""
    with pytest.raises(UpstreamTimeout) as caught:
        async for chunk in response.iter_body():
            received += chunk
            await asyncio.sleep(0.4)  # a slow consumer is not the server's silence
    assert caught.value.phase == "read"
    assert received == b"12345"
    await response.release()


async def test_slow_body_within_read_timeout_is_not_cut_by_total(client: LeanClient, backend: Backend) -> None:
    timeouts = Timeouts(connect=1, read=1, total=0.2)
    response = await client.send(request(backend.endpoint, target=b"/slow-body?delay=0.4", timeouts=timeouts))
    assert await read_all(response) == b"1234567890"
    await response.release()


# ---- broken bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten..", id="short-content-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n", id="no-last-chunk"),
        pytest.param(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\nhel", id="cut-in-chunk"),
    ],
)
async def test_body_cut_short(client: LeanClient, raw_server, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    server = await raw_server(canned(raw))
    response = await client.send(request(server.endpoint))
    with pytest.raises(UpstreamBodyError, match="before the end of the body"):
        await read_all(response)
    await response.release()
    assert client._total == 0


async def test_body_reset(client: LeanClient, raw_server) -> None:  # type: ignore[no-untyped-def]
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()

    server = await raw_server(handler)
    response = await client.send(request(server.endpoint))
    with pytest.raises(UpstreamBodyError):
        await read_all(response)
    await response.release()


async def test_closed_before_headers(client: LeanClient, raw_server) -> None:  # type: ignore[no-untyped-def]
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-")

    server = await raw_server(handler)
    with pytest.raises(UpstreamBodyError, match="before the response headers"):
        await client.send(request(server.endpoint))
    assert server.connections == 1  # a fresh connection is never retried


async def test_early_response_during_upload(client: LeanClient, raw_server) -> None:  # type: ignore[no-untyped-def]
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 413 Too Large\r\ncontent-length: 3\r\nconnection: close\r\n\r\nbig")
        await writer.drain()
        while await reader.read(65536):  # drain so the close is clean
            pass

    async def endless():  # type: ignore[no-untyped-def]
        while True:
            yield b"x" * 65536

    server = await raw_server(handler)
    response = await client.send(request(server.endpoint, "POST", b"/up", endless(), content_length=10**9))
    assert response.status == 413
    assert await read_all(response) == b"big"
    await response.release()
    assert client._total == 0


async def test_aclose_closes_everything(backend: Backend) -> None:
    lean = LeanClient()
    held = await lean.send(request(backend.endpoint, target=b"/stream?size=10000000"))
    idle = await lean.send(request(backend.endpoint))
    await read_all(idle)
    await idle.release()
    assert lean._total == 2
    await lean.aclose()
    assert lean._total == 0
    with pytest.raises(UpstreamBodyError):
        await read_all(held)
    await held.release()
    with pytest.raises(UpstreamConnectError, match="closed"):
        await lean.send(request(backend.endpoint))


async def test_total_timeout_while_upload_stalls(client: LeanClient, raw_server) -> None:  # type: ignore[no-untyped-def]
    """The backend stops reading: the writer waits on drain until the total deadline resets it."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(3)  # never reads the body

    async def big():  # type: ignore[no-untyped-def]
        while True:
            yield b"z" * 65536

    server = await raw_server(handler)
    timeouts = Timeouts(connect=1, read=5, total=0.3)
    with pytest.raises(UpstreamTimeout) as caught:
        await client.send(request(server.endpoint, "POST", b"/up", big(), timeouts=timeouts))
    assert caught.value.phase == "total"
    assert client._total == 0
