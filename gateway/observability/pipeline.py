"""The background flush: raw call records -> analytics events -> metrics, access log, sampled refusal
lines, and the configured sinks. One task per worker, every `analytics.flush_interval`, plus a last flush
at shutdown. A sink that fails logs the error and counts the batch as failed; the next batch tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from gateway.config.observability import ObservabilityConfig
from gateway.context import RequestContext
from gateway.observability.access import combined_line, json_line
from gateway.observability.events import build_event
from gateway.observability.logs import Sampler, utc_stamp
from gateway.observability.metrics import CallMetrics
from gateway.observability.recorder import CallRecord, Recorder
from gateway.observability.sinks import Sink
from gateway.observability.tracing import Tracing
from gateway.observability.writers import LineWriter

log = logging.getLogger("splp.observability")
refusals = logging.getLogger("splp.refusals")

_REFUSALS = frozenset({401, 403, 429})


class Pipeline:
    def __init__(
        self,
        config: ObservabilityConfig,
        registry: CollectorRegistry,
        sinks: list[Sink],
        tracing: Tracing | None = None,
    ) -> None:
        analytics = config.analytics
        self.tracing = tracing
        self.recorder = Recorder(analytics.queue_size, tracing)
        self._interval = analytics.flush_interval
        self._metrics = CallMetrics(registry) if config.metrics else None
        access = config.access_log
        self._access = LineWriter(access.output, access.max_bytes, access.backups) if access.enabled else None
        self._combined = access.format == "combined"
        self.sampler = Sampler(config.log.refusals_per_second)
        self.sinks = sinks
        self.written: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.flushed = 0
        self._probes: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        registry.register(_PipelineCollector(self))

    def add_probe(self, result: dict[str, Any]) -> None:
        """An active health probe's result, as an event of its own (`probe: true`): stored and shown in backend
        health, but neither counted as a call in metrics and rollups nor written to the access log."""
        if len(self._probes) < 10_000:
            now = time.time()
            self._probes.append(
                {
                    "requestTimestamp": utc_stamp(now), "timestamp": now, "correlationId": "", "traceId": "",
                    "apiMethod": "GET", "path": "", "userIp": "", "userAgentHeader": "", "referer": "",
                    "proxyResponseCode": result["status"], "targetResponseCode": result["status"],
                    "responseLatency": round(result["ms"], 3), "responseSize": 0, "requestSize": 0,
                    "apiContext": result["api"], "destination": result["url"], "backendFailureKind": result["cause"],
                    "probe": True,
                }
            )  # fmt: skip

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="splp-observability-flush")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - the flush loop must survive a bad batch
                log.exception("observability flush failed")

    async def flush(self) -> None:
        batch = self.recorder.take()
        probes, self._probes = self._probes, []
        if not batch and not probes:
            return
        events = [build_event(record) for record in batch]
        self.flushed += len(events)
        if self._metrics is not None:
            self._metrics.observe(events)
        self._refusal_lines(events)
        if self._access is not None:
            await self._access.write_lines(list(self._access_lines(batch, events)))
        events += probes  # after metrics and the access log: a probe is not a call
        for sink in self.sinks:
            try:
                await sink.write(events)
                self.written[sink.name] = self.written.get(sink.name, 0) + len(events)
            except Exception as exc:  # noqa: BLE001 - reported and counted; the gateway keeps serving
                self.failed[sink.name] = self.failed.get(sink.name, 0) + len(events)
                log.error(
                    "analytics sink %s failed, %d events lost: %s",
                    sink.name,
                    len(events),
                    exc,
                    extra={"fields": {"event": "sink_failure", "sink": sink.name, "lost": len(events)}},
                )

    def _access_lines(self, batch: list[CallRecord], events: list[dict[str, Any]]) -> Iterator[str]:
        for record, event in zip(batch, events, strict=True):
            ctx: RequestContext | None = record.scope.get("gateway")
            if ctx is not None:
                switches = ctx.api.definition.config.observability
                if not switches.access_log or (switches.sample < 1.0 and random.random() >= switches.sample):
                    continue
            if self._combined:
                yield combined_line(event, record.wall, record.scope.get("http_version", "1.1"))
            else:
                yield json_line(event)

    def _refusal_lines(self, events: list[dict[str, Any]]) -> None:
        now = time.time()
        for event in events:
            if event["proxyResponseCode"] in _REFUSALS and self.sampler.allow(now):
                fields = {
                    "event": "refused",
                    "status": event["proxyResponseCode"],
                    "code": event.get("errorCode"),
                    "api": event.get("apiContext", ""),
                    "client": event["userIp"],
                }
                refusals.info(
                    "refused %s: %s",
                    event["proxyResponseCode"],
                    event.get("errorMessage") or "",
                    extra={"fields": fields, "request_id": event["correlationId"]},
                )

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        for sink in self.sinks:
            await sink.aclose()
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.shutdown)
        if self._access is not None:
            self._access.close()


class _PipelineCollector:
    """Event accounting: queued = flushed + still queued; dropped never entered the queue."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        pipeline = self._pipeline
        recorder = pipeline.recorder
        events = CounterMetricFamily("splp_analytics_events", "Analytics events by outcome.", labels=["outcome"])
        events.add_metric(["queued"], recorder.accepted)
        events.add_metric(["dropped"], recorder.dropped)
        events.add_metric(["flushed"], pipeline.flushed)
        yield events
        sinks = CounterMetricFamily(
            "splp_analytics_sink_events", "Events written or lost per sink.", labels=["sink", "outcome"]
        )
        for sink in pipeline.sinks:
            sinks.add_metric([sink.name, "written"], pipeline.written.get(sink.name, 0))
            sinks.add_metric([sink.name, "failed"], pipeline.failed.get(sink.name, 0))
        yield sinks
        yield GaugeMetricFamily("splp_analytics_queue", "Events waiting for the next flush.", value=len(recorder.queue))
        skipped = CounterMetricFamily("splp_refusal_lines_skipped", "Refusal log lines left out by sampling.")
        skipped.add_metric([], pipeline.sampler.skipped)
        yield skipped
