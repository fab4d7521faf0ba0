"""OpenTelemetry tracing (off by default): a SERVER span per call, continuing the client's W3C
`traceparent`; a CLIENT span for the backend call whose context goes to the backend in `traceparent`;
and one child span per policy's request phase, made after the call from the times the chain recorded
(gateway/chain.py EntryMark), so the request path pays nothing per policy.

Spans leave through the SDK's BatchSpanProcessor (its own thread) to an OTLP/HTTP exporter, e.g. a
collector or Jaeger at http://127.0.0.1:4318/v1/traces.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway.config.observability import TracingSettings
from gateway.context import RequestContext
from gateway.types import Scope

_PROPAGATOR = TraceContextTextMapPropagator()


class _ScopeHeaders(Getter[Scope]):
    def get(self, carrier: Scope, key: str) -> list[str] | None:
        wanted = key.encode()
        values = [value.decode("latin-1") for name, value in carrier["headers"] if name == wanted]
        return values or None

    def keys(self, carrier: Scope) -> list[str]:
        return [name.decode("latin-1") for name, _ in carrier["headers"]]


_GETTER = _ScopeHeaders()


class Tracing:
    def __init__(self, settings: TracingSettings, exporter: SpanExporter | None = None) -> None:
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=settings.endpoint, headers=dict(settings.headers), timeout=5)
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": settings.service_name}),
            sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
        )
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("splp.gateway")

    def start_call(self, scope: Scope) -> Span:
        parent = _PROPAGATOR.extract(scope, getter=_GETTER)
        return self.tracer.start_span(
            f"{scope['method']} {scope['path']}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
        )

    def start_backend(self, call: Span, url: str, method: str) -> tuple[Span, list[tuple[bytes, bytes]]]:
        """The backend span and the trace headers that carry its context to the backend."""
        span = self.tracer.start_span(
            f"backend {method}",
            context=trace.set_span_in_context(call),
            kind=SpanKind.CLIENT,
            attributes={"server.address": url, "http.request.method": method},
        )
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
        return span, [(key.encode(), value.encode()) for key, value in carrier.items()]

    def end_call(
        self,
        span: Span,
        method: str,
        ctx: RequestContext | None,
        status: int,
        started: float,
        wall: float,
        names: Iterable[str],
    ) -> None:
        """Names the span after the API, adds the policy spans from the recorded entry times, ends it."""
        if ctx is not None:
            span.update_name(f"{method} {ctx.api.prefix}")  # the API, not the raw path (bounded names)
            span.set_attribute("splp.api", ctx.api.prefix)
            span.set_attribute("splp.request_id", ctx.request_id.decode("latin-1"))
            marks = ctx.marks
            if marks:
                parent: Context = trace.set_span_in_context(span)
                end = ctx.backend_started or time.perf_counter()
                bounds = [*marks[1:], end]
                for index, name in enumerate(list(names)[: len(marks)]):
                    child = self.tracer.start_span(
                        f"policy {name}", context=parent, start_time=_epoch_ns(wall, started, marks[index])
                    )
                    child.end(end_time=_epoch_ns(wall, started, bounds[index]))
        span.set_attribute("http.response.status_code", status)
        if status >= 500 or status == 0:
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    def shutdown(self) -> None:
        self.provider.shutdown()  # flushes what the batch processor holds


def _epoch_ns(wall: float, started: float, moment: float) -> int:
    """A perf_counter() moment as epoch nanoseconds, anchored at the call's start."""
    return int((wall + (moment - started)) * 1e9)
