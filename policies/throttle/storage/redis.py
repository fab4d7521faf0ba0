"""Cluster counters: `limits`' async RedisStorage (coredis) extended with one Lua script for all of a request's limits.

Why a script on the limits storage rather than limits' strategies: a limits strategy makes one call per
limit (N round trips for N levels), counts each level whether or not another level refuses, and reads the
node's clock for fixed windows. The script (hit_all.lua) checks every limit, counts only if all allow,
and takes time from Redis TIME, in one EVALSHA. It reuses the storage's connection pool, key prefix and
script registration, so `limits`' own strategies still work on the same object.

Requests that reach this storage in the same event-loop tick share one EVALSHA (at most MAX_BATCH each):
every request still costs one round trip, and the client's per-call cost (about 150 us of CPU in coredis)
is paid once per tick instead of once per request.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from coredis.retry import NoRetryPolicy
from limits.aio.storage import RedisStorage

from policies.throttle.storage.base import Hits

MAX_BATCH = 256
SCRIPT = (Path(__file__).parent / "hit_all.lua").read_text(encoding="utf-8")


class ThrottleRedisStorage(RedisStorage):
    STORAGE_SCHEME = ["splp+redis"]

    def __init__(self, uri: str, *, key_prefix: str = "splp", timeout: float = 0.5, **options: Any) -> None:
        # No client-side retries: an unreachable Redis must fail fast so the fallback limiter answers.
        super().__init__(
            uri,
            implementation="coredis",
            key_prefix=key_prefix,
            connect_timeout=timeout,
            stream_timeout=timeout,
            retry_policy=NoRetryPolicy(),
            **options,
        )
        self.prefix = f"{key_prefix}:"
        self._pending: list[tuple[Hits, asyncio.Future[list[int]]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.lua_hit_all = self.bridge.get_connection().register_script(SCRIPT)  # type: ignore[attr-defined]

    async def hit_all(self, hits: Hits) -> list[int]:
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._pending.append((hits, future))
        if len(self._pending) == 1:
            asyncio.get_running_loop().call_soon(self._flush)
        elif len(self._pending) >= MAX_BATCH:
            self._flush()
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[Hits, asyncio.Future[list[int]]]]) -> None:
        prefix = self.prefix
        keys: list[str] = []
        args: list[int] = [len(batch)]
        for hits, _ in batch:
            args.append(len(hits))
            for key, limit, cost, mode in hits:
                keys.append(prefix + key)
                args += (limit.strategy, limit.amount, limit.window * 1000, cost, mode)
        try:
            results = await self.lua_hit_all.execute(keys, args)  # type: ignore[arg-type]
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else ConnectionError(str(exc)))
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):  # type: ignore[arg-type]
            if not future.done():
                future.set_result(result)

    async def aclose(self) -> None:
        connection = self.bridge.get_connection()  # type: ignore[attr-defined]
        pool = getattr(connection, "connection_pool", None)
        if pool is not None:
            pool.disconnect()
