"""Prometheus metrics derived from the analytics events, in the background flush (never per request).

Labels are bounded: `api` is the API's context/version from the snapshot ("-" for calls that matched no
API, never the raw path), `tenant` the calling institution, `cause` a fixed word. A LabelGuard caps the
distinct values a label may take per worker, so a flood of unknown tenants cannot grow the series.
With several workers, prometheus_client's multi-process mode (PROMETHEUS_MULTIPROC_DIR, set by
`splp serve`) keeps each worker's values in a file that the status listener aggregates.

A batch is counted first and then added in one step per label set (`Counter.inc(n)`, `add_observations`
for histograms), so a flush of thousands of events takes a few lock round trips, not one per event.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BOUNDS_MS = tuple(b * 1000.0 for b in LATENCY_BUCKETS)  # events carry ms; +Inf is the index past the end
OVERFLOW = "_other"


class LabelGuard:
    """Passes at most `limit` distinct values; later new values become "_other"."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= self._limit:
            return OVERFLOW
        self._seen.add(value)
        return value


def add_observations(child: Histogram, counts: Sequence[int], total_seconds: float) -> None:
    """What `observe()` once per value does, for a batch: `counts[i]` values fell in bucket i (the last
    index is +Inf), summing to `total_seconds`. prometheus_client has no batch call; its Histogram keeps one
    value per bucket (not cumulative) and a sum, which this adds to (tests/gateway/observability checks
    the result equals per-value observe())."""
    child._sum.inc(total_seconds)
    buckets = child._buckets
    for index, count in enumerate(counts):
        if count:
            buckets[index].inc(count)


class _Batch:
    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(_BOUNDS_MS) + 1)
        self.total = 0.0

    def add(self, ms: float) -> None:
        self.counts[bisect_left(_BOUNDS_MS, ms)] += 1
        self.total += ms / 1000.0


class CallMetrics:
    def __init__(self, registry: CollectorRegistry, *, max_label_values: int = 500) -> None:
        self.requests = Counter(
            "splp_requests",
            "Calls by API, status class and calling tenant.",
            ("api", "status", "tenant"),
            registry=registry,
        )
        self.latency = Histogram(
            "splp_request_duration_seconds",
            "Total time in the gateway per call.",
            ("api",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.backend_latency = Histogram(
            "splp_backend_duration_seconds",
            "Backend time to response head per call.",
            ("api",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.upstream_errors = Counter(
            "splp_upstream_errors", "Failed backend attempts by API and cause.", ("api", "cause"), registry=registry
        )
        self._api = LabelGuard(max_label_values)
        self._tenant = LabelGuard(max_label_values)

    def observe(self, events: Iterable[dict[str, Any]]) -> None:
        requests: Tally[tuple[str, str, str]] = Tally()
        errors: Tally[tuple[str, str]] = Tally()
        latency: dict[str, _Batch] = {}
        backend: dict[str, _Batch] = {}
        for event in events:
            api = event.get("apiContext") or "-"
            status = event["proxyResponseCode"]
            requests[api, f"{status // 100}xx" if status else "none", event.get("userTenantDomain") or "-"] += 1
            batch = latency.get(api)
            if batch is None:
                batch = latency[api] = _Batch()
            batch.add(event["responseLatency"])
            ms = event.get("backendLatency")
            if ms is not None:
                batch = backend.get(api)
                if batch is None:
                    batch = backend[api] = _Batch()
                batch.add(ms)
            kind = event.get("backendFailureKind")
            if kind:
                errors[api, kind] += 1
        for (api, status_class, tenant), count in requests.items():
            self.requests.labels(self._api(api), status_class, self._tenant(tenant)).inc(count)
        for (api, kind), count in errors.items():
            self.upstream_errors.labels(self._api(api), kind).inc(count)
        for api, batch in latency.items():
            add_observations(self.latency.labels(self._api(api)), batch.counts, batch.total)
        for api, batch in backend.items():
            add_observations(self.backend_latency.labels(self._api(api)), batch.counts, batch.total)
