"""Gateway-wide body rules on an API without any policy: the default size limit and bad framing."""

from __future__ import annotations

import asyncio
import io

import aiohttp
import orjson
import pytest

from tests.gateway.conftest import api, running_gateway
from tests.media import MIB, GatewayFactory, MediaUpstream, media_gateway_factory, raw_exchange


@pytest.fixture(params=["lean", "aiohttp"])
def media_gateway(request: pytest.FixtureRequest, write_config) -> GatewayFactory:
    return media_gateway_factory(write_config, request.param)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def problem_of(answer: bytes) -> dict:
    return orjson.loads(answer.partition(b"\r\n\r\n")[2])


async def test_default_limit_10_mib_declared_and_chunked(media_gateway):
    async with media_gateway() as (base, upstream), aiohttp.ClientSession() as session:
        async with session.put(f"{base}/plain/v1/upload", data=io.BytesIO(b"a" * (10 * MIB + 1))) as response:
            problem = orjson.loads(await response.read())
        assert response.status == 413 and problem["code"] == 800413 and problem["request_id"]
        assert upstream.log == []

        async def unlimited():
            while True:
                yield b"a" * 65536
                await asyncio.sleep(0)

        async with session.put(f"{base}/plain/v1/upload", data=unlimited()) as response:
            assert response.status == 413
        await asyncio.sleep(0.1)
        assert not upstream.log[-1]["complete"] and upstream.log[-1]["received"] <= 10 * MIB

        async with session.put(f"{base}/plain/v1/upload", data=io.BytesIO(b"a" * (10 * MIB))) as response:
            assert response.status == 201


async def test_api_max_body_size_lowers_the_default(write_config):
    async with MediaUpstream() as upstream:
        path = write_config([api("small", [upstream.url], max_body_size="1KiB")])
        async with running_gateway(path) as (base, _):
            answer = await raw_exchange(
                base, b"POST /small/v1/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n"
            )
            assert status_of(answer) == 413


async def test_body_on_get_is_refused(media_gateway):
    async with media_gateway() as (base, upstream):
        answer = await raw_exchange(
            base, b"GET /plain/v1/file/10 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        )
        assert status_of(answer) == 400 and problem_of(answer)["code"] == 801400
        assert upstream.log == []


async def test_lying_content_length(media_gateway):
    async with media_gateway() as (base, upstream):
        # longer than declared: the declared 5 bytes are the body; the rest is a malformed next request, so
        # the answer in flight ends with connection: close and nothing else is read from that connection
        answer = await raw_exchange(
            base, b"POST /plain/v1/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGARBAGE\r\n\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 201 ") and b"connection: close" in answer
        assert answer.count(b"HTTP/1.1 ") == 1
        assert upstream.log[-1]["received"] == 5 and len(upstream.log) == 1
        # shorter than declared, then the client leaves: the backend never sees a complete body
        answer = await raw_exchange(
            base, b"POST /plain/v1/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\nshort", read_timeout=0.5
        )
        assert answer == b""
        await asyncio.sleep(0.2)
        assert not upstream.log[-1]["complete"]


async def test_invalid_chunk_sizes_are_400(media_gateway):
    async with media_gateway() as (base, upstream):
        for chunk in (b"zz\r\nhello\r\n0\r\n\r\n", b"-5\r\nhello\r\n0\r\n\r\n", b"fffffffffffffffffff\r\nx\r\n"):
            head = b"POST /plain/v1/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            answer = await raw_exchange(base, head + chunk, read_timeout=2)
            assert b"HTTP/1.1 400 " in answer, (chunk, answer[:200])
            assert b"HTTP/1.1 201 " not in answer
        assert all(not entry["complete"] for entry in upstream.log)


async def test_ten_thousand_ranges_get_a_defined_answer(media_gateway):
    ranges = "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 20000, 2))
    async with media_gateway() as (base, upstream):
        for prefix in ("/plain/v1", "/media/v1"):
            request = f"GET {prefix}/file/{MIB} HTTP/1.1\r\nHost: x\r\nRange: {ranges}\r\n\r\n".encode()
            answer = await raw_exchange(base, request)
            assert status_of(answer) == 431, answer[:200]
        assert upstream.log == []
