"""Read the next batch while the current one is being written: source and target work overlap.

Wraps a source's batch iterator; at most one batch is read ahead, so memory stays at two batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

_END = object()


class Prefetch:
    def __init__(self, batches: AsyncGenerator[Any, None]) -> None:
        self._batches = batches
        self._pending: asyncio.Future[Any] | None = None

    def _fetch(self) -> asyncio.Future[Any]:
        self._pending = pending = asyncio.ensure_future(anext(self._batches, _END))
        return pending

    def __aiter__(self) -> Prefetch:
        return self

    async def __anext__(self) -> Any:
        pending = self._pending if self._pending is not None else self._fetch()
        batch = await pending
        if batch is _END:
            self._pending = None
            raise StopAsyncIteration
        self._fetch()
        return batch

    async def __aenter__(self) -> Prefetch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            # Let the read in flight finish rather than cancel it: a driver interrupted mid-protocol could not
            # close its cursor cleanly. Its outcome is retrieved and dropped; the caller's error stands.
            await asyncio.gather(pending, return_exceptions=True)
        await self._batches.aclose()
