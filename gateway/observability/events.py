"""The analytics event of one call, built in the background flush from a CallRecord.

Field names follow WSO2 API Manager's analytics event where one exists (SPLP's dashboards read them
today); SPLP's own fields are marked below. Latencies are milliseconds:
    responseLatency          total time in the gateway, entry to last byte
    requestMediationLatency  entry until the request went to the backend (the request policies)
    backendLatency           request sent until the backend's response head arrived
    responseMediationLatency backend's head until the response head went to the client
Fields a policy adds with RequestContext.note() are merged in last.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from gateway.context import RequestContext
from gateway.observability.logs import utc_stamp
from gateway.observability.recorder import CallRecord

log = logging.getLogger("splp.observability")


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def header(scope: Any, wanted: bytes) -> str:
    for name, value in scope["headers"]:
        if name == wanted:
            return str(value.decode("latin-1"))
    return ""


def _target(scope: Any) -> str:
    raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    query: bytes = scope.get("query_string", b"")
    return (raw + b"?" + query if query else raw).decode("latin-1")


def _trace_id(traceparent: str) -> str:
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else ""


def _policy_times(ctx: RequestContext, record: CallRecord) -> dict[str, float]:
    """Request-phase time of each policy: from entering it to entering the next one (or the backend call,
    or the response when the policy answered itself)."""
    marks = ctx.marks or []
    end = ctx.backend_started or record.responded or record.finished
    bounds = [*marks[1:], end]
    return {name: _ms(max(0.0, bounds[i] - marks[i])) for i, name in enumerate(ctx.api.chain.names[: len(marks)])}


def run_log_phase(ctx: RequestContext, event: dict[str, Any]) -> None:
    """The policies' on_log phases (in the background flush), each timed into policyLatency["<name>.log"]."""
    times = event.setdefault("policyLatency", {})
    for name, hook in ctx.api.chain.log_hooks:
        started = time.perf_counter()
        try:
            hook(ctx, event)
        except Exception:  # noqa: BLE001 - a policy's log phase never loses the event
            log.exception("policy %s: on_log failed", name)
        times[f"{name}.log"] = _ms(time.perf_counter() - started)


def build_event(record: CallRecord) -> dict[str, Any]:
    scope = record.scope
    ctx: RequestContext | None = scope.get("gateway")
    client = scope.get("client")
    status = record.status
    total = record.finished - record.started
    event: dict[str, Any] = {
        "requestTimestamp": utc_stamp(record.wall),
        "timestamp": record.wall,  # SPLP: the same instant in epoch seconds
        "correlationId": record.request_id.decode("latin-1"),
        "traceId": _trace_id(header(scope, b"traceparent")),  # SPLP
        "apiMethod": scope["method"],
        "path": _target(scope),  # SPLP: path and query as the client sent them
        "userIp": client[0] if client else "",
        "userAgentHeader": header(scope, b"user-agent"),
        "proxyResponseCode": status,
        "responseLatency": _ms(total),
        "responseSize": record.response_bytes,  # SPLP
        "requestSize": int(header(scope, b"content-length") or 0),  # SPLP; a media policy notes streamed sizes
    }
    target = 0
    backend = 0.0
    if ctx is not None:
        config = ctx.api.definition.config
        resource = ctx.resource
        event.update(
            apiName=config.name,
            apiVersion=config.version,
            apiContext=config.prefix,
            apiCreatorTenantDomain=config.tenant,
            apiResourceTemplate=resource.template if resource is not None else "",
            destination=ctx.endpoint,
        )
        application = ctx.application
        if application is not None:
            event.update(
                applicationId=getattr(application, "id", ""),
                applicationName=getattr(application, "name", ""),
                applicationOwner=getattr(application, "owner", ""),
            )
        principal = ctx.principal
        if principal is not None:
            event["userName"] = getattr(principal, "username", None) or getattr(principal, "subject", "")
        event["userTenantDomain"] = ctx.tenant or ""  # the caller's institution
        if ctx.backend_answered:
            target = status
            backend = ctx.backend_answered - ctx.backend_started
            event["requestMediationLatency"] = _ms(ctx.backend_started - record.started)
            event["backendLatency"] = _ms(backend)
            if record.responded:
                event["responseMediationLatency"] = _ms(record.responded - ctx.backend_answered)
        else:
            event["requestMediationLatency"] = _ms((record.responded or record.finished) - record.started)
        if ctx.marks:
            event["policyLatency"] = _policy_times(ctx, record)
        if ctx.failure:
            event["backendFailure"] = ctx.failure  # SPLP: the cause as text
            event["backendFailureKind"] = ctx.failure_kind  # SPLP: refused, unreachable, timeout_read, ...
    event["targetResponseCode"] = target
    event["gatewayLatency"] = _ms(total - backend)  # SPLP: total minus backend
    if record.problem:
        try:
            problem = orjson.loads(record.problem)
        except orjson.JSONDecodeError:
            problem = {}
        event.update(errorCode=problem.get("code"), errorType=problem.get("type"), errorMessage=problem.get("detail"))
    if ctx is not None:
        if ctx.extra and "event" in ctx.extra:
            event.update(ctx.extra["event"])
        if ctx.api.chain.log_hooks:
            run_log_phase(ctx, event)
    return event
