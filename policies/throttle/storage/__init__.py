"""Counter storages for the throttle policy, chosen by `storage.counters`: memory:// or redis://.

CounterStore is the per-worker object kept in WorkerResources (so a config reload keeps every counter). With
Redis it is also the circuit breaker: after a Redis error it answers from no Redis for `retry_interval`
(the policy then applies each limit's on_error: a local per-node share, open, or closed), then lets one
request probe Redis; the first success closes the circuit. Both transitions are logged once and counted.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from policies.throttle.storage.base import Hits, StoreUnavailable
from policies.throttle.storage.memory import ThrottleMemoryStorage

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

log = logging.getLogger("splp.throttle")

SCHEMES = ("memory://", "redis://", "rediss://", "redis+unix://")


class CounterStore:
    def __init__(self, uri: str, *, max_keys: int = 100_000, retry_interval: float = 1.0, timeout: float = 0.5) -> None:
        self.uri = uri
        self.local = ThrottleMemoryStorage(max_keys=max_keys)
        self.shared = None
        if not uri.startswith("memory://"):
            from policies.throttle.storage.redis import ThrottleRedisStorage

            self.shared = ThrottleRedisStorage(f"async+{uri}", timeout=timeout)
        self.retry_interval = retry_interval
        self.down = False
        self._retry_at = 0.0
        self._probing = False
        self.stats: Counter[str] = Counter()  # redis_errors, outages, recoveries, fallback_decisions, blocked, ...
        # plain ints on the request path; policies/throttle/metrics.py renders them at scrape time
        self.refused: Counter[tuple[str, str]] = Counter()  # (level, policy) -> requests refused
        self.shadowed: Counter[tuple[str, str]] = Counter()  # (level, policy) -> would refuse (enforce: false)

    async def hit_all(self, hits: Hits) -> list[int]:
        """One check-and-count for all hits; raises StoreUnavailable when Redis cannot answer."""
        shared = self.shared
        if shared is None:
            return await self.local.hit_all_in_tick(hits)
        if self.down:
            if self._probing or time.monotonic() < self._retry_at:
                raise StoreUnavailable(self.uri)
            self._probing = True
        try:
            result = await shared.hit_all(hits)
        except Exception as exc:  # noqa: BLE001 - coredis ConnectionError, TimeoutError, OSError, script errors
            self._failed(exc)
            raise StoreUnavailable(self.uri) from exc
        finally:
            self._probing = False
        if self.down:
            self.down = False
            self.stats["recoveries"] += 1
            log.warning("throttle: counter storage %s is back; shared counting resumed", self.uri)
        return result

    def _failed(self, exc: BaseException) -> None:
        self.stats["redis_errors"] += 1
        self._retry_at = time.monotonic() + self.retry_interval
        if not self.down:
            self.down = True
            self.stats["outages"] += 1
            log.error(
                "throttle: counter storage %s unreachable (%s: %s); applying each limit's on_error "
                "(local share / open / closed) until it answers",
                self.uri,
                type(exc).__name__,
                exc,
            )

    def local_hit_all(self, hits: Hits) -> list[int]:
        self.stats["fallback_decisions"] += 1
        return self.local.hit_all(hits)

    def collect_metrics(self) -> Iterator[Metric]:
        from policies.throttle.metrics import families

        return families(self)

    async def check_ready(self) -> str | None:
        """For /_ready: None when the shared counters answer (or there are none), else the problem."""
        if self.shared is None:
            return None
        try:
            if await self.shared.check():
                return None
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return f"{self.uri} unreachable: {type(exc).__name__}"
        return f"{self.uri} unreachable"

    async def aclose(self) -> None:
        if self.shared is not None:
            await self.shared.aclose()
