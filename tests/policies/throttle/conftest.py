"""Throttle test helpers: a per-run Redis key prefix whose keys are deleted afterwards, and load helpers."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from tests.services import reachable, require_service, unique_name


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix no other run uses on the shared Redis; every key under it is deleted at the end."""
    import coredis

    host, port = require_service("redis")
    prefix = unique_name("thr")
    yield prefix
    client = coredis.Redis(host=host, port=port)
    keys = [key async for key in client.scan_iter(match=f"splp:{prefix}:*")]
    if keys:
        await client.delete(keys)
    client.connection_pool.disconnect()


async def load(
    urls: list[str], total: int, concurrency: int = 20, headers: dict[str, str] | None = None
) -> Counter[int]:
    """Sends `total` GETs spread over `urls`, `concurrency` at a time; returns the count per status."""
    statuses: Counter[int] = Counter()
    queue = iter(range(total))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as client:

        async def worker() -> None:
            for i in queue:
                async with client.get(urls[i % len(urls)], headers=headers) as response:
                    await response.read()
                    statuses[response.status] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


@contextlib.contextmanager
def redis_server(port: int, *options: str) -> Iterator[subprocess.Popen[bytes]]:
    """A private redis-server on `port` (no persistence) for the duration of the block."""
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--daemonize", "no", *options],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not reachable("127.0.0.1", port, 0.2):
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(10)
