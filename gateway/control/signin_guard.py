"""Brute-force brake on POST /auth/token: too many failed sign-ins answer 429 with Retry-After.

Failures are counted (successes cost nothing) per username and per client address in a moving
window, with the `limits` library's in-memory storage: per control-API process, which is enough to
make password guessing slow (10 tries per account per 15 minutes) without a shared store. A locked
username answers 429 even for the right password until the window frees a slot; the lock names no
reason beyond "too many failures", so it reveals nothing about the account.
"""

from __future__ import annotations

import math
import time

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from gateway.control import errors
from gateway.control.errors import ApiError

PER_USERNAME = parse("10/15minutes")
PER_ADDRESS = parse("50/15minutes")


class SignInGuard:
    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def check(self, username: str, address: str) -> None:
        """Raises 429 when either the account or the address has failed too often lately."""
        for limit, key in ((PER_USERNAME, f"user:{username.lower()}"), (PER_ADDRESS, f"addr:{address}")):
            if not await self._limiter.test(limit, key):
                stats = await self._limiter.get_window_stats(limit, key)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                raise ApiError(
                    errors.TOO_MANY_SIGNINS,
                    f"too many failed sign-ins; try again in {wait} s",
                    headers={"retry-after": str(wait)},
                )

    async def failed(self, username: str, address: str) -> None:
        await self._limiter.hit(PER_USERNAME, f"user:{username.lower()}")
        await self._limiter.hit(PER_ADDRESS, f"addr:{address}")
