"""Prometheus metrics derived from the analytics events, in the background flush (never per request).

Labels are bounded: `api` is the API's context/version from the snapshot ("-" for calls that matched no
API, never the raw path), `tenant` the calling institution, `cause` a fixed word. A LabelGuard caps the
distinct values a label may take per worker, so a flood of unknown tenants cannot grow the series.
With several workers, prometheus_client's multi-process mode (PROMETHEUS_MULTIPROC_DIR, set by
`splp serve`) keeps each worker's values in a file that the status listener aggregates.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
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
        for event in events:
            api = self._api(event.get("apiContext") or "-")
            status = event["proxyResponseCode"]
            tenant = self._tenant(event.get("userTenantDomain") or "-")
            requests[api, f"{status // 100}xx" if status else "none", tenant] += 1
            self.latency.labels(api).observe(event["responseLatency"] / 1000.0)
            if "backendLatency" in event:
                self.backend_latency.labels(api).observe(event["backendLatency"] / 1000.0)
            kind = event.get("backendFailureKind")
            if kind:
                errors[api, kind] += 1
        for key, count in requests.items():
            self.requests.labels(*key).inc(count)
        for pair, count in errors.items():
            self.upstream_errors.labels(*pair).inc(count)
