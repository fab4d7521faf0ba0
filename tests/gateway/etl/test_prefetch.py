"""The read-ahead wrapper: order kept, one batch ahead, closed cleanly when the consumer stops early."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from gateway.etl.prefetch import Prefetch


async def test_reads_one_ahead_and_closes_the_source() -> None:
    log: list[str] = []

    async def batches() -> AsyncGenerator[int, None]:
        try:
            for i in range(5):
                log.append(f"read {i}")
                yield i
        finally:
            log.append("closed")

    seen = []
    async with Prefetch(batches()) as it:
        async for b in it:
            log.append(f"use {b}")
            seen.append(b)
            await asyncio.sleep(0)  # the consumer's own I/O (the target write): the next read runs meanwhile
            if b == 2:
                break
    assert seen == [0, 1, 2]
    assert log == ["read 0", "use 0", "read 1", "use 1", "read 2", "use 2", "read 3", "closed"]
