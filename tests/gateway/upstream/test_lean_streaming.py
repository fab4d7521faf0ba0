"""LeanClient streams 100 MiB both ways with bounded memory (buffered bytes and tracemalloc peak)."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator

import pytest

from gateway.upstream.base import Timeouts
from gateway.upstream.lean import LeanClient
from gateway.upstream.lean_conn import HIGH_WATER

from .conftest import BLOCK, Backend, repeat, request

SIZE = 100 * 1024 * 1024
TIMEOUTS = Timeouts(connect=2, read=10, total=30)
MiB = 1024 * 1024


class traced_peak:
    """Peak of Python allocations inside the block (client and in-process server together)."""

    def __enter__(self) -> traced_peak:
        tracemalloc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


async def consume(response, every: int = 4) -> int:  # type: ignore[no-untyped-def]
    """Counts the body, yielding to the loop now and then so the socket outruns the consumer."""
    total = 0
    n = 0
    async for chunk in response.iter_body():
        total += len(chunk)
        n += 1
        if n % every == 0:
            await asyncio.sleep(0.001)
    return total


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_download_100_mib(client: LeanClient, backend: Backend, chunked: bool) -> None:
    target = b"/stream?size=%d&chunked=%d" % (SIZE, chunked)
    with traced_peak() as traced:
        response = await client.send(request(backend.endpoint, target=target, timeouts=TIMEOUTS))
        assert await consume(response) == SIZE
        peak_buffered = response.peak_buffered
        await response.release()
    assert HIGH_WATER < peak_buffered < 2 * MiB  # the buffer passed its mark (reading paused) and stayed bounded
    assert traced.peak < 8 * MiB
    assert client._total == 1  # clean end: pooled


async def test_upload_100_mib(client: LeanClient, backend: Backend) -> None:
    with traced_peak() as traced:
        body = repeat(BLOCK, SIZE // len(BLOCK))
        response = await client.send(
            request(backend.endpoint, "POST", b"/count", body, content_length=SIZE, timeouts=TIMEOUTS)
        )
        assert int(b"".join([c async for c in response.iter_body()])) == SIZE
        await response.release()
    assert traced.peak < 8 * MiB


async def test_full_duplex_echo_100_mib(client: LeanClient, backend: Backend) -> None:
    """The backend streams its answer while it reads: send() returns at the head and the rest of the
    request body goes on in a task (an inline writer would deadlock against the paused reader)."""
    uploaded = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal uploaded
        for _ in range(SIZE // len(BLOCK)):
            uploaded += len(BLOCK)
            yield BLOCK

    with traced_peak() as traced:
        response = await client.send(request(backend.endpoint, "POST", b"/duplex", body(), timeouts=TIMEOUTS))
        assert uploaded < SIZE  # the head came back while the body was still being sent
        assert await consume(response) == SIZE
        peak_buffered = response.peak_buffered
        await response.release()
    assert uploaded == SIZE
    assert peak_buffered < 2 * MiB
    assert traced.peak < 8 * MiB
    assert client._total == 1  # request and response both ended cleanly: pooled
