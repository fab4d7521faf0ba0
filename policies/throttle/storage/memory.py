"""Single-node counters: `limits`' MemoryStorage extended with an all-or-nothing multi-limit hit, and bounded.

`hit_all` runs without an await, so on one event loop it is atomic: no lock, no task. The inherited
`Counter` (`storage`) and `expirations` hold fixed and sliding window counters under the same keys the Redis
script uses (`<key>:<window index>`); moving windows keep a deque of timestamps per key.

Bounded: past `max_keys` live keys the expired ones are swept, and if the flood is of live keys (random
IPs, random client ids) the keys closest to expiry are evicted down to 90 % of the bound, so memory stays
bounded; an evicted key restarts from zero (documented: under a flood larger than `max_keys` some counters
of the flooding keys are forgotten, never those of the most recent traffic).
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable

from limits.aio.storage import MemoryStorage

from policies.throttle.storage.base import ADD, CHECK, HIT, MOVING, SLIDING, Hits


class ThrottleMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["splp+memory"]

    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.max_keys = max_keys
        self.clock = clock
        self.moving: dict[str, deque[int]] = {}
        self.evicted = 0

    def __len__(self) -> int:
        return len(self.expirations)

    def hit_all(self, hits: Hits) -> list[int]:
        now = int(self.clock() * 1000)
        counts = self.storage
        expirations = self.expirations
        out = [0, 0]
        plan: list[tuple[int, str, int, int, int]] = []  # (strategy, storage key, cost, expiry ms, amount)
        refused = 0
        retry = 0
        for index, (key, limit, cost, mode) in enumerate(hits, 1):
            amount = limit.amount
            w = limit.window * 1000
            strategy = limit.strategy
            if strategy == MOVING:
                events = self.moving.get(key)
                if events is not None:
                    while events and events[0] <= now - w:
                        events.popleft()
                used = len(events) if events else 0
                need = 0 if mode == ADD else (cost if mode == HIT else 1)
                over = used + need - amount
                if over > 0:
                    reset = events[min(over, used) - 1] + w - now if events else w  # type: ignore[index]
                else:
                    reset = events[0] + w - now if events else w
                plan.append((MOVING, key, cost if mode != CHECK else 0, w, amount))
            else:
                idx = now // w
                current = f"{key}:{idx}"
                count = counts.get(current, 0) if expirations.get(current, 0) > now else 0
                elapsed = now - idx * w
                if strategy == SLIDING:
                    previous = f"{key}:{idx - 1}"
                    prev = counts.get(previous, 0) if expirations.get(previous, 0) > now else 0
                    used = prev * (w - elapsed) // w + count
                else:
                    prev = 0
                    used = count
                need = 0 if mode == ADD else (cost if mode == HIT else 1)
                over = used + need - amount
                reset = w - elapsed
                if over > 0 and strategy == SLIDING and count + need <= amount and prev:
                    # the previous window's weight decays: wait until floor(prev*(w-e-t)/w) fits
                    allowed = amount - need - count
                    reset = max(1, (w - elapsed) - ((allowed + 1) * w) // prev + 1)
                expiry = (idx + 2) * w if strategy == SLIDING else (idx + 1) * w
                plan.append((strategy, current, cost if mode != CHECK else 0, expiry, amount))
            remaining = amount - used - (cost if mode == HIT else 0)
            if over > 0:
                if not refused:
                    refused = index
                retry = max(retry, reset)
            out.append(remaining if remaining > 0 else 0)
            out.append(reset)
        if refused:
            out[0] = refused
            out[1] = retry
            return out
        for strategy, key, cost, expiry, amount in plan:
            if not cost:
                continue
            if strategy == MOVING:
                events = self.moving.get(key)
                if events is None or events.maxlen != amount:
                    events = self.moving[key] = deque(events or (), maxlen=amount)
                events.extend([now] * min(cost, amount))
                expirations[key] = now + expiry
            else:
                if expirations.get(key, 0) <= now:
                    counts[key] = cost
                    expirations[key] = expiry
                else:
                    counts[key] += cost
        if len(expirations) > self.max_keys:
            self._shrink(now)
        return out

    def _shrink(self, now: int) -> None:
        expirations = self.expirations
        for key in [k for k, at in expirations.items() if at <= now]:
            self._drop(key)
        excess = len(expirations) - int(self.max_keys * 0.9)
        if excess > 0:
            for key in heapq.nsmallest(excess, expirations, key=expirations.__getitem__):
                self._drop(key)
                self.evicted += 1

    def _drop(self, key: str) -> None:
        self.expirations.pop(key, None)
        self.storage.pop(key, None)
        self.moving.pop(key, None)

    async def reset(self) -> int | None:
        self.moving.clear()
        return await super().reset()
