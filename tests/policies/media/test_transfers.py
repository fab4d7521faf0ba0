"""Media transfers end to end: client -> gateway (uvicorn + hardened protocol) -> MediaUpstream on loopback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import time

import aiohttp
import orjson
import pytest

from tests.media import ETAG, MIB, MP4_HEAD, file_sha256, raw_exchange


def digest_of(data: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"


def mp4(size: int) -> bytes:
    return MP4_HEAD + bytes(range(256)) * ((size - len(MP4_HEAD)) // 256) + b"\x00" * ((size - len(MP4_HEAD)) % 256)


async def chunks_of(data: bytes, size: int = 256 * 1024, pause: float = 0.0):
    for start in range(0, len(data), size):
        if pause:
            await asyncio.sleep(pause)
        yield data[start : start + size]


@pytest.mark.parametrize("chunked", [False, True])
async def test_download_64_mib_sha256_end_to_end(media_gateway, chunked):
    size = 64 * MIB
    async with media_gateway() as (base, upstream), aiohttp.ClientSession() as session:
        url = f"{base}/media/v1/file/{size}" + ("?chunked" if chunked else "")
        async with session.get(url) as response:
            assert response.status == 200
            assert (response.headers.get("transfer-encoding") == "chunked") is chunked
            digest = hashlib.sha256()
            async for piece in response.content.iter_any():
                digest.update(piece)
        assert digest.hexdigest() == file_sha256(size)


async def test_upload_64_mib_with_digest_both_framings(media_gateway):
    body = mp4(64 * MIB)
    expected = hashlib.sha256(body).hexdigest()
    async with media_gateway() as (base, upstream), aiohttp.ClientSession() as session:
        headers = {"content-type": "video/mp4", "content-digest": digest_of(body)}
        async with session.put(f"{base}/media/v1/upload", data=io.BytesIO(body), headers=headers) as response:
            assert response.status == 201, await response.text()
            assert orjson.loads(await response.read()) == {"size": len(body), "sha256": expected}
        assert upstream.log[-1]["headers"][b"content-length"] == str(len(body)).encode()
        async with session.put(f"{base}/media/v1/upload", data=chunks_of(body), headers=headers) as response:
            assert response.status == 201, await response.text()
            assert orjson.loads(await response.read())["sha256"] == expected
        assert upstream.log[-1]["headers"][b"transfer-encoding"] == b"chunked"


async def test_digest_mismatch_resets_upstream_before_last_bytes(media_gateway):
    body = mp4(8 * MIB)
    wrong = digest_of(body[:-1] + b"!")
    async with media_gateway() as (base, upstream), aiohttp.ClientSession() as session:
        for data in (io.BytesIO(body), chunks_of(body)):
            headers = {"content-type": "video/mp4", "content-digest": wrong}
            async with session.put(f"{base}/media/v1/upload", data=data, headers=headers) as response:
                problem = orjson.loads(await response.read())
            assert response.status == 400 and problem["code"] == 801402, problem
            await asyncio.sleep(0.1)
            record = upstream.log[-1]
            assert record["path"] == "/upload" and not record["complete"]
            assert record["received"] < len(body)


async def test_malformed_or_unsupported_digest_is_400_before_reading(media_gateway):
    async with media_gateway() as (base, upstream), aiohttp.ClientSession() as session:
        for value in ("sha-256=abc", "md5=:AAAAAAAAAAAAAAAAAAAAAA==:", "sha-256=:AAAA:"):
            headers = {"content-type": "video/mp4", "content-digest": value}
            async with session.put(f"{base}/media/v1/upload", data=mp4(4096), headers=headers) as response:
                problem = orjson.loads(await response.read())
            assert response.status == 400 and problem["code"] == 801401, (value, problem)
        assert upstream.log == []


async def test_exe_labelled_png_is_refused_before_the_backend(media_gateway):
    exe = b"MZ\x90\x00" + b"\x00" * 4096
    async with media_gateway() as (base, upstream), aiohttp.ClientSession() as session:
        async with session.post(f"{base}/media/v1/upload", data=exe, headers={"content-type": "image/png"}) as r:
            problem = orjson.loads(await r.read())
        assert r.status == 415 and problem["code"] == 801416 and "executable" in problem["detail"]
        png_lie = b"GIF89a" + b"\x00" * 100
        async with session.post(f"{base}/media/v1/upload", data=png_lie, headers={"content-type": "image/png"}) as r:
            assert r.status == 415
        async with session.post(f"{base}/media/v1/upload", data=b"x" * 10, headers={"content-type": "text/csv"}) as r:
            problem = orjson.loads(await r.read())
        assert r.status == 415 and problem["code"] == 801415
        async with session.post(f"{base}/media/v1/upload", data=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64) as r:
            assert r.status == 415  # no content-type on an upload
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
        async with session.post(f"{base}/media/v1/upload", data=png, headers={"content-type": "image/png"}) as r:
            assert r.status == 201
        assert [entry["path"] for entry in upstream.log] == ["/upload"]


async def test_size_limit_413_as_soon_as_crossed(media_gateway):
    async with media_gateway({"max_body_size": "4MiB"}) as (base, upstream), aiohttp.ClientSession() as session:
        headers = {"content-type": "video/mp4"}
        async with session.put(f"{base}/media/v1/upload", data=io.BytesIO(mp4(5 * MIB)), headers=headers) as response:
            problem = orjson.loads(await response.read())
        assert response.status == 413 and problem["code"] == 800413
        assert upstream.log == []  # declared length: refused on the head

        async def endless():
            yield MP4_HEAD
            while True:
                yield b"\x00" * 65536
                await asyncio.sleep(0)

        async with session.put(f"{base}/media/v1/upload", data=endless(), headers=headers) as response:
            problem = orjson.loads(await response.read())
        assert response.status == 413 and problem["code"] == 800413
        await asyncio.sleep(0.1)
        record = upstream.log[-1]
        assert not record["complete"] and record["received"] <= 4 * MIB


async def test_expect_100_continue(media_gateway):
    async with media_gateway({"max_body_size": "1MiB"}) as (base, upstream):
        host = base.removeprefix("http://")
        head = f"PUT /media/v1/upload HTTP/1.1\r\nHost: {host}\r\nContent-Type: video/mp4\r\nExpect: 100-continue\r\n"
        refused = await raw_exchange(base, (head + "Content-Length: 2000000\r\n\r\n").encode())
        assert refused.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in refused

        reader, writer = await asyncio.open_connection(*host.split(":"))
        writer.write((head + "Content-Length: 1000\r\nConnection: close\r\n\r\n").encode())
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(mp4(1000))
        final = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert final.startswith(b"HTTP/1.1 201 ")


async def test_range_if_range_and_head_pass_through(media_gateway):
    size = 4 * MIB
    async with media_gateway() as (base, upstream), aiohttp.ClientSession() as session:
        url = f"{base}/media/v1/file/{size}"
        async with session.get(url, headers={"range": "bytes=100-199"}) as response:
            part = await response.read()
        assert response.status == 206 and len(part) == 100
        assert response.headers["content-range"] == f"bytes 100-199/{size}"
        async with session.get(url, headers={"range": f"bytes={size}-"}) as response:
            assert response.status == 416 and response.headers["content-range"] == f"bytes */{size}"
        async with session.get(url, headers={"range": "bytes=0-9", "if-range": ETAG.decode()}) as response:
            assert response.status == 206 and len(await response.read()) == 10
        async with session.get(url, headers={"range": "bytes=0-9", "if-range": '"old"'}) as response:
            assert response.status == 200 and len(await response.read()) == size
        many = "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 400, 2))  # 200 ranges, over max_ranges
        async with session.get(url, headers={"range": many}) as response:
            assert response.status == 200 and len(await response.read()) == size
        assert b"range" not in upstream.log[-1]["headers"]
        async with session.head(url) as response:
            assert response.status == 200 and response.headers["content-length"] == str(size)
            assert await response.read() == b""


async def test_client_disconnect_mid_download_cancels_upstream(media_gateway):
    size = 256 * MIB
    async with media_gateway() as (base, upstream):
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET /media/v1/file/{size} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        got = 0
        while got < 2 * MIB:
            got += len(await reader.read(65536))
        writer.transport.abort()
        left_at = time.monotonic()
        for _ in range(100):
            await asyncio.sleep(0.02)
            if "cut_at" in upstream.log[-1]:
                break
        record = upstream.log[-1]
        assert "cut_at" in record, record
        assert time.monotonic() - left_at < 2.5
        assert record["sent"] < 64 * MIB, record["sent"]


async def test_upstream_reset_mid_body_is_an_error_not_a_short_200(media_gateway):
    async with media_gateway() as (base, upstream), aiohttp.ClientSession() as session:
        async with session.get(f"{base}/media/v1/reset/{8 * MIB}") as response:
            assert response.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()


async def test_slow_reader_slows_the_upstream(media_gateway):
    size = 128 * MIB
    async with media_gateway() as (base, upstream):
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port), limit=65536)
        writer.write(f"GET /media/v1/file/{size} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        got = 0
        for _ in range(40):  # ~1 s reading 64 KiB every 25 ms
            got += len(await reader.read(65536))
            await asyncio.sleep(0.025)
        ahead = upstream.log[-1]["sent"] - got
        writer.transport.abort()
        # the stream buffer (256 KiB) plus kernel socket buffers on two connections, never the file
        assert ahead < 24 * MIB, f"upstream ran {ahead / MIB:.1f} MiB ahead of a slow reader"


async def test_slow_writer_completes_and_total_timeout_does_not_cut_media(media_gateway):
    body = mp4(2 * MIB)
    timeouts = {"timeouts": {"connect": 1, "read": 1, "total": 1}}
    async with (
        media_gateway({"idle_timeout": "1s"}, upstream=timeouts) as (base, upstream),
        aiohttp.ClientSession() as session,
    ):
        started = time.monotonic()
        data = chunks_of(body, 128 * 1024, pause=0.12)  # ~2 s in total, never 1 s silent
        async with session.put(f"{base}/media/v1/upload", data=data, headers={"content-type": "video/mp4"}) as r:
            assert r.status == 201, await r.text()
        assert time.monotonic() - started > 1.5


async def test_idle_client_mid_upload_is_408_and_upstream_reset(media_gateway):
    async with media_gateway({"idle_timeout": "0.5s"}) as (base, upstream):
        head = b"PUT /media/v1/upload HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\nContent-Length: 100000\r\n\r\n"
        answer = await raw_exchange(base, head + mp4(1000), read_timeout=3)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        await asyncio.sleep(0.1)
        assert not upstream.log[-1]["complete"]


async def test_backend_that_stops_reading_ends_with_504(media_gateway):
    async with (
        media_gateway({"idle_timeout": "0.5s"}) as (base, upstream),
        aiohttp.ClientSession() as session,
    ):
        started = time.monotonic()
        data = chunks_of(mp4(64 * MIB))
        async with session.put(f"{base}/media/v1/upload?stall", data=data, headers={"content-type": "video/mp4"}) as r:
            problem = orjson.loads(await r.read())
        assert r.status == 504 and problem["code"] == 101504, problem
        assert time.monotonic() - started < 5


async def test_bandwidth_quota_paces_a_transfer(media_gateway):
    media = {"bandwidth": {"rate": "4MiB", "burst": "1MiB"}}
    async with media_gateway(media) as (base, upstream), aiohttp.ClientSession() as session:
        started = time.monotonic()
        async with session.get(f"{base}/media/v1/file/{3 * MIB}") as response:
            assert len(await response.read()) == 3 * MIB
        assert time.monotonic() - started > 0.4  # (3 MiB - 1 MiB burst) at 4 MiB/s
