"""Cluster counters: `limits`' async RedisStorage extended with one Lua script for all of a request's limits.

Why a script on the limits storage rather than limits' strategies: a limits strategy makes one call per
limit (N round trips for N levels), counts each level whether or not another level refuses, and reads the
node's clock for fixed windows. The script (hit_all.lua) checks every limit, counts only if all allow,
and takes time from Redis TIME, in one EVALSHA. The storage keeps limits' URI, key prefix and client, so
`limits`' own strategies still work on the same object.

Why its own transport (resp.py): the storage's coredis client cost about 150 us of CPU per EVALSHA; the
lean RESP2 connection sends the same EVALSHA for a few us and pipelines: commands are written as they
come and replies matched in order. Requests that reach this storage in the same event-loop tick share one
EVALSHA (at most MAX_BATCH each): every request still costs at most one round trip.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from coredis.retry import NoRetryPolicy
from limits.aio.storage import RedisStorage

from policies.throttle.storage.base import HIT, Hits, bulk
from policies.throttle.storage.resp import RedisClient, Script

MAX_BATCH = 256
KEY_MEMO = 8192  # encoded keys kept; past it the memo starts over
SCRIPT = Script((Path(__file__).parent / "hit_all.lua").read_text(encoding="utf-8"))
_SMALL = [bulk(b"%d" % n) for n in range(MAX_BATCH + 1)]  # request and limit counts
_COST_1_HIT = bulk(b"1") + bulk(b"%d" % HIT)


class ThrottleRedisStorage(RedisStorage):
    STORAGE_SCHEME = ["splp+redis"]

    def __init__(self, uri: str, *, key_prefix: str = "splp", timeout: float = 0.5, **options: Any) -> None:
        # No client-side retries: an unreachable Redis must fail fast so the fallback limiter answers.
        # (Passed through a dict: limits annotates its **options as scalars, coredis takes a policy object.)
        client_options: dict[str, Any] = {"retry_policy": NoRetryPolicy(), **options}
        super().__init__(
            uri,
            implementation="coredis",
            key_prefix=key_prefix,
            connect_timeout=timeout,
            stream_timeout=timeout,
            **client_options,
        )
        self.prefix = f"{key_prefix}:"
        self.client = RedisClient(uri, timeout=timeout)
        self._pending: list[tuple[Hits, asyncio.Future[list[int]]]] = []
        self._keys: dict[str, bytes] = {}  # key -> its RESP bulk string, prefixed

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
        if not batch:
            return
        encoded = self._keys
        keys: list[bytes] = []
        args: list[bytes] = [_SMALL[len(batch)]]
        for hits, _ in batch:
            args.append(_SMALL[len(hits)] if len(hits) <= MAX_BATCH else bulk(b"%d" % len(hits)))
            for key, limit, cost, mode in hits:
                found = encoded.get(key)
                if found is None:
                    if len(encoded) >= KEY_MEMO:
                        encoded.clear()
                    found = encoded[key] = bulk((self.prefix + key).encode())
                keys.append(found)
                args.append(limit.script_args)
                args.append(_COST_1_HIT if cost == 1 and mode == HIT else bulk(b"%d" % cost) + bulk(b"%d" % mode))
        # bulk strings after the script: numkeys, the keys, then ARGV: requests, per request its limit count
        # and 5 per limit
        count = 2 + len(batch) + 6 * len(keys)
        body = bulk(b"%d" % len(keys)) + b"".join(keys) + b"".join(args)
        self.client.send_script(SCRIPT, count, body, [future for _, future in batch])

    async def check(self) -> bool:
        return await self.client.ping()

    async def aclose(self) -> None:
        self.client.close()
        connection = self.bridge.get_connection()  # type: ignore[attr-defined]
        pool = getattr(connection, "connection_pool", None)
        if pool is not None:
            pool.disconnect()
