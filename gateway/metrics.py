"""`/_metrics` on the data plane: this worker's counters in the Prometheus text exposition format.

Nothing is counted through prometheus_client on the request path: the stores keep plain ints (e.g. the
throttle CounterStore's Counters) and a custom Collector turns them into metric families at scrape time.
Anything in WorkerResources with a `collect_metrics()` method (yielding prometheus_client Metric objects) is
exposed. Each worker process exposes its own counters (with N workers a scrape reaches one of them); the
`worker` label (the pid) keeps the series of different workers apart.
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
