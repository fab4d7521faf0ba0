"""The `observability:` section of gateway.yaml: operator logs, access log, status listener, analytics, metrics."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.config.units import Duration, Size


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _LineOutput(_Strict):
    """Where lines go: a stream, or a file rotated by size (gateway/observability/writers.py)."""

    output: str = Field("stdout", description="stdout, stderr or a file path (rotated by size).")
    max_bytes: Size = Field(100 * 1024 * 1024, ge=0, description="Rotate the file past this size (0 = never).")
    backups: int = Field(5, ge=0, le=1000, description="Rotated files kept (NAME.1 ... NAME.N).")

    @field_validator("output")
    @classmethod
    def _check_output(cls, value: str) -> str:
        if value in ("stdout", "stderr"):
            return value
        if not value or value.endswith("/"):
            raise ValueError(f"{value!r} is not an output; expected stdout, stderr or a file path")
        return value


class LogSettings(_Strict):
    format: Literal["json", "text"] = Field(
        "json", description="Operator log lines (gateway, control API, ETL): JSON lines or key=value text."
    )
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="Lowest level written.")
    refusals_per_second: int = Field(
        5, ge=0, le=10000, description="Sampled operator lines for 401/403/429 refusals per worker (0 = none)."
    )


class AccessLogSettings(_LineOutput):
    enabled: bool = Field(True, description="One line per request (an API may turn it off or sample it).")
    format: Literal["json", "combined"] = Field(
        "json", description="JSON lines, or nginx combined-like text with request id and latency."
    )


class StatusSettings(_Strict):
    enabled: bool = Field(True, description="Serve /_health, /_ready (with store details) and /metrics.")
    host: str = Field("127.0.0.1", description="Status listener address; keep it off the public network.")
    port: int = Field(8100, ge=0, le=65535, description="Status listener port (0 picks a free port).")


class JsonLinesSink(_LineOutput):
    type: Literal["jsonl"] = Field(description="Analytics events as JSON lines (for Promtail/Loki).")


class StoreSink(_Strict):
    type: Literal["store"] = Field(description="Analytics events and per-minute rollups in a SQL store.")
    uri: str | None = Field(
        None, description="sqlite:///path or postgresql://...; default: storage.catalog (the catalog store)."
    )
    retention: Duration = Field(30 * 86400.0, gt=0, description="Events and rollups older than this are deleted.")

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError(f"{value!r} is not a store URI; expected sqlite:///path or postgresql://...")
        return value


class AnalyticsSettings(_Strict):
    enabled: bool = Field(True, description="Build one analytics event per call (feeds metrics and the sinks).")
    queue_size: int = Field(
        200_000, ge=100, le=10_000_000, description="Events held before flushing; past it events are dropped (counted)."
    )
    flush_interval: Duration = Field(0.5, gt=0, le=60, description="How often the background task flushes a batch.")
    policy_timing: bool = Field(
        True, description="Record the time each policy's request phase takes (policyLatency in the event)."
    )
    sinks: tuple[Annotated[JsonLinesSink | StoreSink, Field(discriminator="type")], ...] = Field(
        (), description="Where events go besides metrics: jsonl (stdout/file) and/or store (SQLite/PostgreSQL)."
    )


class TracingSettings(_Strict):
    enabled: bool = Field(False, description="OpenTelemetry spans per call, policy phase and backend call.")
    endpoint: str = Field(
        "http://127.0.0.1:4318/v1/traces", description="OTLP/HTTP traces endpoint (a collector, Jaeger, Tempo)."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Headers sent with each export.")
    service_name: str = Field("splp-gateway", description="service.name of the spans.")
    sample_ratio: float = Field(
        1.0, ge=0.0, le=1.0, description="Share of new traces recorded; a sampled client trace is always kept."
    )


class ObservabilityConfig(_Strict):
    log: LogSettings = Field(default_factory=LogSettings, description="Operator log lines.")
    access_log: AccessLogSettings = Field(default_factory=AccessLogSettings, description="Per-request access log.")
    status: StatusSettings = Field(default_factory=StatusSettings, description="Status listener (health, metrics).")
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings, description="Per-call analytics events.")
    metrics: bool = Field(True, description="Prometheus metrics from the analytics events (/metrics).")
    tracing: TracingSettings = Field(default_factory=TracingSettings, description="OpenTelemetry tracing (OTLP).")


class ApiObservability(_Strict):
    """Per-API switches (`observability:` in an API definition)."""

    access_log: bool = Field(True, description="Write access-log lines for this API.")
    sample: float = Field(1.0, ge=0.0, le=1.0, description="Share of this API's calls written to the access log.")
