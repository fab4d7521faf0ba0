"""Prometheus metric families of one CounterStore, built at scrape time from its plain-int counters.

The request path only does `counter[key] += 1` (a refusal, a shadow verdict, a Redis error); this module
turns those into families when /_metrics is scraped (gateway/metrics.py), so counting costs nothing more
than a dict increment and an allowed request counts nothing at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from policies.throttle.storage import CounterStore


def storage_label(uri: str) -> str:
    """The counter storage URI without credentials (redis://:secret@host -> redis://host)."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def families(store: CounterStore) -> Iterator[Metric]:
    storage = storage_label(store.uri)
    stats = store.stats
    labels = ["storage", "level", "policy"]
    refused = CounterMetricFamily(
        "splp_throttle_refused", "Requests refused with 429, per throttling level and policy (tier).", labels=labels
    )
    for (level, policy), count in sorted(store.refused.items()):
        refused.add_metric([storage, level, policy], count)
    yield refused
    shadowed = CounterMetricFamily(
        "splp_throttle_shadow_refusals", "Requests a limit in shadow mode (enforce: false) would refuse.", labels=labels
    )
    for (level, policy), count in sorted(store.shadowed.items()):
        shadowed.add_metric([storage, level, policy], count)
    yield shadowed
    simple = (
        ("splp_throttle_blocked", "Requests refused with 403 by a blocking condition.", "blocked"),
        ("splp_throttle_store_errors", "Errors from the shared counter storage (Redis).", "redis_errors"),
        ("splp_throttle_store_outages", "Times the shared counter storage became unreachable.", "outages"),
        ("splp_throttle_store_recoveries", "Times the shared counter storage answered again.", "recoveries"),
        (
            "splp_throttle_fallback_decisions",
            "Requests decided by the local fallback limiter while the shared storage was down.",
            "fallback_decisions",
        ),
        (
            "splp_throttle_store_closed_refusals",
            "Requests refused with 503 because a fail-closed limit could not reach the shared storage.",
            "refused_store_closed",
        ),
    )
    for name, documentation, key in simple:
        family = CounterMetricFamily(name, documentation, labels=["storage"])
        family.add_metric([storage], stats[key])
        yield family
    down = GaugeMetricFamily(
        "splp_throttle_store_down", "1 while the shared counter storage is considered unreachable.", labels=["storage"]
    )
    down.add_metric([storage], 1 if store.down else 0)
    yield down
