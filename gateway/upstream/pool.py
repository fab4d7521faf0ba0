"""Endpoint pools: weighted round-robin over healthy endpoints, with passive health.

An endpoint that fails `max_failures` times in a row is suspended for `cooldown` seconds; after that it
gets traffic again (one failure then suspends it anew). Health state lives in an EndpointHealth shared
by URL across snapshots, so a config reload does not forget which backend is down.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from gateway.config.model import EndpointConfig, PassiveHealth
from gateway.upstream.base import Endpoint

log = logging.getLogger("splp.upstream")


def endpoint_from_config(config: EndpointConfig, tls: ssl.SSLContext | None = None) -> Endpoint:
    parts = urlsplit(config.url)
    scheme = parts.scheme
    port = parts.port or (443 if scheme == "https" else 80)
    return Endpoint(
        url=config.url,
        scheme=scheme,
        host=parts.hostname or "",
        port=port,
        base_path=parts.path.rstrip("/").encode("latin-1"),
        weight=config.weight,
        ssl=tls if scheme == "https" else None,
    )


class EndpointHealth:
    __slots__ = ("failures", "suspended_until", "suspended", "last_failure", "last_failure_at")

    def __init__(self) -> None:
        self.failures = 0
        self.suspended_until = 0.0
        self.suspended = False  # set when suspended, cleared (and the recovery logged) by the next success
        self.last_failure = ""
        self.last_failure_at = 0.0  # wall clock


class HealthRegistry:
    """Per-worker health state by endpoint URL, outliving snapshots."""

    def __init__(self) -> None:
        self._by_url: dict[str, EndpointHealth] = {}

    def get(self, url: str) -> EndpointHealth:
        health = self._by_url.get(url)
        if health is None:
            health = self._by_url[url] = EndpointHealth()
        return health

    def items(self) -> list[tuple[str, EndpointHealth]]:
        return list(self._by_url.items())


class EndpointPool:
    def __init__(self, endpoints: Iterable[Endpoint], health: PassiveHealth, registry: HealthRegistry) -> None:
        self.endpoints = tuple(endpoints)
        self._states = tuple(registry.get(e.url) for e in self.endpoints)
        self._max_failures = health.max_failures
        self._cooldown = health.cooldown
        self._weights = tuple(e.weight for e in self.endpoints)
        self._equal = len(set(self._weights)) == 1
        self._current = [0] * len(self.endpoints)  # smooth weighted round-robin state (as nginx)
        self._total = sum(self._weights)
        self._next = 0

    def __len__(self) -> int:
        return len(self.endpoints)

    def pick(self, exclude: tuple[int, ...] = ()) -> int | None:
        """Index of the next endpoint to try, skipping suspended and excluded ones; None if none is left."""
        now = time.monotonic()
        states = self._states
        count = len(self.endpoints)
        if self._equal:
            start = self._next
            for step in range(count):
                index = (start + step) % count
                if index not in exclude and states[index].suspended_until <= now:
                    self._next = index + 1
                    return index
            return None
        best = -1
        total = 0
        current = self._current
        for index in range(count):
            if index in exclude or states[index].suspended_until > now:
                continue
            current[index] += self._weights[index]
            total += self._weights[index]
            if best < 0 or current[index] > current[best]:
                best = index
        if best < 0:
            return None
        current[best] -= total
        return best

    def succeeded(self, index: int) -> None:
        state = self._states[index]
        if state.failures:
            state.failures = 0
        if state.suspended:
            state.suspended = False
            url = self.endpoints[index].url
            fields = {"event": "endpoint_recovered", "endpoint": url}
            log.warning("endpoint recovered: %s", url, extra={"fields": fields})

    def failed(self, index: int, cause: str = "") -> None:
        state = self._states[index]
        state.failures += 1
        state.last_failure, state.last_failure_at = cause, time.time()
        if state.failures >= self._max_failures:
            state.suspended_until = time.monotonic() + self._cooldown
            state.failures = self._max_failures - 1  # after the cooldown, one more failure suspends it again
            state.suspended = True
            url = self.endpoints[index].url
            fields = {"event": "endpoint_suspended", "endpoint": url, "cause": cause, "cooldown_s": self._cooldown}
            log.warning("endpoint suspended for %gs: %s (%s)", self._cooldown, url, cause, extra={"fields": fields})

    def retry_after(self) -> int:
        """Seconds until the first suspended endpoint comes back (for Retry-After)."""
        now = time.monotonic()
        soonest = min(state.suspended_until for state in self._states)
        return max(1, int(soonest - now + 0.999))
