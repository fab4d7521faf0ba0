"""The worker's metrics registry, served at /metrics by the status listener (gateway/observability/status.py).

Nothing is counted through prometheus_client on the request path: the stores keep plain ints (e.g. the
throttle CounterStore's Counters) and a custom Collector turns them into metric families at scrape time.
Anything in WorkerResources with a `collect_metrics()` method (yielding prometheus_client Metric objects) is
exposed. These counters are per worker (the `worker` label, the pid, keeps them apart); the call metrics of
gateway/observability/metrics.py use prometheus_client itself and are summed over workers in multi-process mode.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from gateway.types import WorkerResources

HEADERS = [(b"content-type", CONTENT_TYPE_LATEST.encode())]


class ServicesCollector(Collector):
    def __init__(self, services: WorkerResources) -> None:
        self._services = services

    def describe(self) -> Iterable[Metric]:
        return ()  # families depend on what the snapshot created; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        for item in self._services.values():
            collect = getattr(item, "collect_metrics", None)
            if collect is not None:
                yield from collect()


def registry_for(services: WorkerResources) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False, target_info={"worker": str(os.getpid())})
    registry.register(ServicesCollector(services))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
