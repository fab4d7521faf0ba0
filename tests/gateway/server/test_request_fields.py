"""Which request fields the app sees: trailers never, Connection-listed fields never, underscores per config.

Raw sockets against the hardened protocol behind a real uvicorn.Server (helpers of test_protocol.py); every
case is also sent split across reads, since llhttp reports a field in pieces when a read ends inside it.
"""

from __future__ import annotations

import asyncio

import pytest

from gateway.server.protocol import ServerLimits
from tests.gateway.server.test_protocol import Running, assert_problem, closed_by_server, read_response, serve

pytestmark = pytest.mark.timeout(20)

CHUNKED_HEAD = b"POST /p HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n"
TRAILED_BODY = b"5\r\nhello\r\n0\r\nHost: evil.test\r\nX-Trailer: injected\r\nX-Forwarded-Host: evil.test\r\n\r\n"


def splits(raw: bytes) -> dict[str, list[bytes]]:
    """One read; a read ending inside every field name and value; one byte per read."""
    cut = [raw.index(b"Ho", len(CHUNKED_HEAD)) + 2, raw.index(b"ected"), raw.index(b"rded-Host")]
    pieces, start = [], 0
    for at in cut:
        pieces.append(raw[start:at])
        start = at
    pieces.append(raw[start:])
    return {"one-read": [raw], "inside-fields": pieces, "byte-by-byte": [raw[i : i + 1] for i in range(len(raw))]}


async def send_in_reads(running: Running, reads: list[bytes]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await running.connect()
    for piece in reads:
        writer.write(piece)
        await writer.drain()
        if len(reads) < 20:
            await asyncio.sleep(0.02)  # separate reads on the server
    return reader, writer


@pytest.mark.parametrize("split", ["one-read", "inside-fields", "byte-by-byte"])
async def test_trailer_fields_never_become_request_headers(split: str) -> None:
    raw = CHUNKED_HEAD + TRAILED_BODY
    async with serve() as running:
        reader, writer = await send_in_reads(running, splits(raw)[split])
        response = await read_response(reader)
        writer.write(b"GET /next HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
        following = await read_response(reader)
        writer.close()
        await writer.wait_closed()
    assert response.status == 200 and response.json()["body"] == "hello"
    assert following.status == 200  # the connection stays usable
    first = running.app.calls[0]
    await asyncio.wait_for(first.done.wait(), 5)
    assert first.scope["headers"] == [(b"host", b"example.test"), (b"transfer-encoding", b"chunked")]


async def test_trailer_section_is_bounded() -> None:
    limits = ServerLimits(max_header_bytes=1024)
    async with serve(limits) as running:
        reader, writer = await running.connect()
        writer.write(CHUNKED_HEAD + b"5\r\nhello\r\n0\r\n")
        for _ in range(4):  # httptools reports a field once the next one starts: 3 reported, over 1024
            writer.write(b"X-Pad: " + b"a" * 500 + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0.02)
        data = await closed_by_server(reader)
        writer.close()
        await writer.wait_closed()
    assert data.startswith(b"HTTP/1.1 431 ")
    call = running.app.calls[0]
    assert call.messages[-1] == {"type": "http.disconnect"}  # the body never completed


async def test_unfinished_trailer_value_is_bounded() -> None:
    """One endless trailer value in pieces: refused once past the cap, not buffered until a timeout."""
    async with serve(ServerLimits(max_header_bytes=1024, max_headers=10)) as running:
        reader, writer = await running.connect()
        writer.write(CHUNKED_HEAD + b"5\r\nhello\r\n0\r\nX-Endless: ")
        for _ in range(6):  # up to 3000 bytes of one value, in separate reads, until the server answers
            await asyncio.sleep(0.05)
            if reader.at_eof() or reader._buffer:  # noqa: SLF001 - a write now could reset the connection
                break
            writer.write(b"a" * 500)
        data = await closed_by_server(reader)
        writer.close()
        await writer.wait_closed()
    assert data.startswith(b"HTTP/1.1 431 ")


async def test_large_chunk_over_many_reads_is_not_a_trailer() -> None:
    async with serve(ServerLimits(max_header_bytes=1024, max_headers=10)) as running:
        reader, writer = await running.connect()
        writer.write(CHUNKED_HEAD + b"%x\r\n" % 6000)
        for _ in range(12):
            await asyncio.sleep(0.02)
            writer.write(b"b" * 500)
        writer.write(b"\r\n0\r\n\r\n")
        response = await read_response(reader)
        writer.close()
        await writer.wait_closed()
    assert response.status == 200 and response.json()["body"] == "b" * 6000


@pytest.mark.parametrize("split", [False, True])
async def test_connection_listed_fields_are_removed_before_the_app(split: bool) -> None:
    raw = (
        b"POST /p HTTP/1.1\r\nHost: example.test\r\nX-Secret: hop\r\nConnection: keep-alive, X-Secret, Host\r\n"
        b"Connection: content-length, X-Other\r\nContent-Length: 2\r\nX-Other: 1\r\nX-Kept: yes\r\n\r\nhi"
    )
    reads = [raw[:40], raw[40:90], raw[90:]] if split else [raw]
    async with serve() as running:
        reader, writer = await send_in_reads(running, reads)
        response = await read_response(reader)
        writer.close()
        await writer.wait_closed()
    assert response.status == 200 and response.json()["body"] == "hi"
    names = [name for name, _ in running.app.calls[0].scope["headers"]]
    assert names == [b"host", b"connection", b"connection", b"content-length", b"x-kept"]


async def read_one(running: Running, raw: bytes) -> tuple[int, bytes]:
    reader, writer = await running.connect()
    for i in range(0, len(raw), 7):  # split reads: a name may end in any read
        writer.write(raw[i : i + 7])
        await writer.drain()
    data = await closed_by_server(reader)
    writer.close()
    await writer.wait_closed()
    return int(data.split(b" ", 2)[1]), data


UNDERSCORED = b"GET /ok HTTP/1.1\r\nHost: a\r\nX_Auth_User: admin\r\nX-Auth-User: me\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("mode", ["drop", "reject", "pass"])
async def test_header_names_with_underscores(mode: str) -> None:
    async with serve(ServerLimits(underscore_headers=mode)) as running:  # type: ignore[arg-type]
        status, data = await read_one(running, UNDERSCORED)
    if mode == "reject":
        assert status == 400
        response = await read_response(_reader_of(data))
        assert assert_problem(response, 400)["code"] == 800441
        assert running.app.calls == []
        return
    assert status == 200
    headers = running.app.calls[0].scope["headers"]
    assert (b"x-auth-user", b"me") in headers
    assert ((b"x_auth_user", b"admin") in headers) is (mode == "pass")


def _reader_of(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"GET /ok HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400, 800400),
        (b"GET /ok HTTP/1.1\r\nHost: bad/host\r\n\r\n", 400, 800440),
        (b"GET /" + b"u" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414, 800414),
        (b"GET /ok HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n", 431, 800431),
    ],
    ids=["malformed", "bad-host", "long-target", "big-headers"],
)
async def test_protocol_refusals_are_problem_json_with_code_and_request_id(raw: bytes, status: int, code: int) -> None:
    async with serve() as running:
        _, data = await read_one(running, raw)
    problem = assert_problem(await read_response(_reader_of(data)), status)
    assert problem["code"] == code and len(problem["request_id"]) == 32


async def test_refusal_carries_the_clients_request_id() -> None:
    async with serve() as running:
        _, data = await read_one(running, b"GET /ok HTTP/1.1\r\nX-Request-ID: trace-42\r\nHost: a\r\nHost: b\r\n\r\n")
    assert assert_problem(await read_response(_reader_of(data)), 400)["request_id"] == "trace-42"


async def test_header_deadline_is_problem_json() -> None:
    async with serve(ServerLimits(header_timeout=0.5)) as running:
        reader, writer = await running.connect()
        writer.write(b"GET /ok HTTP/1.1\r\nHost: a\r\n")
        response = await read_response(reader)
        writer.close()
        await writer.wait_closed()
    assert assert_problem(response, 408)["code"] == 800408
