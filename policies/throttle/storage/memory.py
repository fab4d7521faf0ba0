"""Single-node counters: `limits`' MemoryStorage extended with an all-or-nothing multi-limit hit, and bounded.

`hit_all` runs without an await, so on one event loop it is atomic: no lock, no task. Requests reach it
through `hit_all_in_tick`, which runs a tick's requests together (see there why). Fixed and sliding
windows keep one slot per key (the key the Redis script uses, without the window index): a list
[window index, count, previous window's count, expires at (ms)], so a hit is one dict lookup and no string
formatting; the slot rolls over when its window ends. Moving windows keep a deque of timestamps per key.
The inherited `limits` storage (`storage`, `expirations`) stays as it is for `limits`' own strategies.

Bounded: past `max_keys` live keys the expired ones are swept, and if the flood is of live keys (random
IPs, random client ids) the keys closest to expiry are evicted down to 90 % of the bound, so memory stays
bounded; an evicted key restarts from zero (documented: under a flood larger than `max_keys` some counters
of the flooding keys are forgotten, never those of the most recent traffic).
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import deque
from collections.abc import Callable
from itertools import chain

from limits.aio.storage import MemoryStorage

from policies.throttle.storage.base import ADD, CHECK, HIT, MOVING, SLIDING, Hits


class ThrottleMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["splp+memory"]

    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.max_keys = max_keys
        self.clock = clock
        self.windows: dict[str, list[int]] = {}  # key -> [window index, count, previous count, expires at ms]
        self.moving: dict[str, deque[int]] = {}  # key -> timestamps (ms), oldest first
        self.moving_until: dict[str, int] = {}  # key -> expires at ms
        self.evicted = 0
        self._pending: list[tuple[Hits, asyncio.Future[list[int]]]] = []  # this tick's requests

    async def hit_all_in_tick(self, hits: Hits) -> list[int]:
        """`hit_all`, for every request of this event-loop tick together, in arrival order.

        The first request of a tick schedules one callback; it runs each queued request's `hit_all` (still
        atomic: no await between them) and wakes them all. Why: the tick's requests then pass through the
        counters back to back, which keeps that code and data in the CPU caches; measured +18-25 % req/s
        for the `throttle-memory` bench at 50 connections against calling `hit_all` inline, for one loop
        turn of latency. The Redis storage batches its script calls per tick the same way.
        """
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._pending.append((hits, future))
        if len(self._pending) == 1:
            asyncio.get_running_loop().call_soon(self._run_pending)
        return await future

    def _run_pending(self) -> None:
        batch, self._pending = self._pending, []
        for hits, future in batch:
            if future.done():  # its request was cancelled (client gone): nothing to count
                continue
            try:
                future.set_result(self.hit_all(hits))
            except Exception as exc:  # noqa: BLE001 - handed to its request, never lost in the loop
                future.set_exception(exc)

    def __len__(self) -> int:
        return len(self.windows) + len(self.moving)

    def hit_all(self, hits: Hits) -> list[int]:
        now = int(self.clock() * 1000)
        windows = self.windows
        out = [0, 0]
        found: list[list[int] | deque[int] | None] = []  # per hit: its slot or deque, None for a new key
        slot: list[int] | deque[int] | None
        refused = 0
        retry = 0
        for index, (key, limit, cost, mode) in enumerate(hits, 1):
            amount = limit.amount
            w = limit.window_ms
            need = 0 if mode == ADD else (cost if mode == HIT else 1)
            if limit.strategy == MOVING:
                events = self.moving.get(key)
                if events is not None:
                    while events and events[0] <= now - w:
                        events.popleft()
                used = len(events) if events else 0
                over = used + need - amount
                if over > 0:
                    reset = events[min(over, used) - 1] + w - now if events else w
                else:
                    reset = events[0] + w - now if events else w
                found.append(events)
            else:
                idx = now // w
                slot = windows.get(key)
                count = prev = 0
                if slot is not None:
                    if slot[0] == idx:
                        count = slot[1]
                        prev = slot[2]
                    elif slot[0] == idx - 1:
                        prev = slot[1]
                elapsed = now - idx * w
                used = prev * (w - elapsed) // w + count if limit.strategy == SLIDING else count
                over = used + need - amount
                reset = w - elapsed
                if over > 0 and limit.strategy == SLIDING and count + need <= amount and prev:
                    # the previous window's weight decays: wait until floor(prev*(w-e-t)/w) fits
                    allowed = amount - need - count
                    reset = max(1, (w - elapsed) - ((allowed + 1) * w) // prev + 1)
                found.append(slot)
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
        for (key, limit, cost, mode), slot in zip(hits, found, strict=True):
            if not cost or mode == CHECK:
                continue
            w = limit.window_ms
            if limit.strategy == MOVING:
                self._add_events(key, limit.amount, cost, now, w)
                continue
            idx = now // w
            if slot is None:
                slot = windows.get(key)  # the same key twice in one call
            if slot is None:
                windows[key] = [idx, cost, 0, (idx + (2 if limit.strategy == SLIDING else 1)) * w]
            elif slot[0] == idx:
                slot[1] += cost
            else:  # the slot's window is over: it becomes the previous one (or is forgotten)
                slot[2] = slot[1] if slot[0] == idx - 1 else 0
                slot[0] = idx
                slot[1] = cost
                slot[3] = (idx + (2 if limit.strategy == SLIDING else 1)) * w
        if len(windows) + len(self.moving) > self.max_keys:
            self._shrink(now)
        return out

    def _add_events(self, key: str, amount: int, cost: int, now: int, w: int) -> None:
        events = self.moving.get(key)
        if events is None or events.maxlen != amount:
            events = self.moving[key] = deque(events or (), maxlen=amount)
        events.extend([now] * min(cost, amount))
        self.moving_until[key] = now + w

    def _shrink(self, now: int) -> None:
        windows, until = self.windows, self.moving_until
        for key in [k for k, slot in windows.items() if slot[3] <= now]:
            del windows[key]
        for key in [k for k, at in until.items() if at <= now]:
            self._drop(key)
        excess = len(self) - int(self.max_keys * 0.9)
        if excess > 0:
            expiring = chain(((slot[3], k) for k, slot in windows.items()), ((at, k) for k, at in until.items()))
            for _, key in heapq.nsmallest(excess, expiring):
                self._drop(key)
                self.evicted += 1

    def _drop(self, key: str) -> None:
        self.windows.pop(key, None)
        self.moving.pop(key, None)
        self.moving_until.pop(key, None)

    async def reset(self) -> int | None:
        self.windows.clear()
        self.moving.clear()
        self.moving_until.clear()
        return await super().reset()
