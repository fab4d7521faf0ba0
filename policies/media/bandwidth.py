"""Bandwidth quota hook: how fast one transfer may move bytes.

`Bandwidth` is the contract the throttling work plugs into (a shared quota per application, counted in
Redis, can implement `take`); `TokenBucket` is the local implementation the media policy's `bandwidth`
setting uses: each transfer, each direction, at most `rate` bytes per second after a `burst`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Bandwidth(Protocol):
    async def take(self, nbytes: int) -> None:
        """Returns once `nbytes` may pass (sleeping while over the quota): the caller's stream slows, and
        back-pressure slows its peer."""
        ...


class TokenBucket:
    __slots__ = ("_rate", "_burst", "_tokens", "_stamp")

    def __init__(self, rate: int, burst: int) -> None:
        self._rate = float(rate)
        self._burst = float(burst)
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    async def take(self, nbytes: int) -> None:
        now = time.monotonic()
        tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate) - nbytes
        self._stamp = now
        self._tokens = tokens
        if tokens < 0:
            await asyncio.sleep(-tokens / self._rate)
