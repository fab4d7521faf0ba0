"""The analytics event of one call, built in the background flush from a CallRecord.

Field names follow WSO2 API Manager's analytics event where one exists (SPLP's dashboards read them
today); SPLP's own fields are marked below. Latencies are milliseconds:
    responseLatency          total time in the gateway, entry to last byte
    requestMediationLatency  entry until the request went to the backend (the request policies)
    backendLatency           request sent until the backend's response head arrived
    responseMediationLatency backend's head until the response head went to the client
Fields a policy adds with RequestContext.note() are merged in, then the policies' on_log phases run.
This runs once per call (thousands per flush): one pass over the headers, no per-field lookups twice.
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

_WANTED = frozenset({b"traceparent", b"user-agent", b"content-length", b"referer"})


def _headers(scope: Any) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in _WANTED:
            found[name] = value
    return found


def _target(scope: Any) -> str:
    raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    query: bytes = scope.get("query_string", b"")
    return (raw + b"?" + query if query else raw).decode("latin-1")


def _trace_id(traceparent: bytes) -> str:
    parts = traceparent.split(b"-")
    return parts[1].decode("latin-1") if len(parts) == 4 and len(parts[1]) == 32 else ""


def _policy_times(ctx: RequestContext, record: CallRecord) -> dict[str, float]:
    """Request-phase time of each policy: from entering it to entering the next one (or the backend call,
    or the response when the policy answered itself)."""
    marks = ctx.marks or []
    end = ctx.backend_started or record.responded or record.finished
    bounds = [*marks[1:], end]
    names = ctx.api.chain.names
    return {names[i]: round((bounds[i] - mark) * 1000.0, 3) for i, mark in enumerate(marks[: len(names)])}


def run_log_phase(ctx: RequestContext, event: dict[str, Any]) -> None:
    """The policies' on_log phases (in the background flush), each timed into policyLatency["<name>.log"]."""
    times = event.setdefault("policyLatency", {})
    for name, hook in ctx.api.chain.log_hooks:
        started = time.perf_counter()
        try:
            hook(ctx, event)
        except Exception:  # noqa: BLE001 - a policy's log phase never loses the event
            log.exception("policy %s: on_log failed", name)
        times[f"{name}.log"] = round((time.perf_counter() - started) * 1000.0, 3)


def build_event(record: CallRecord) -> dict[str, Any]:
    scope = record.scope
    ctx: RequestContext | None = scope.get("gateway")
    client = scope.get("client")
    headers = _headers(scope)
    status = record.status
    started = record.started
    total = record.finished - started
    length = headers.get(b"content-length", b"")
    event: dict[str, Any] = {
        "requestTimestamp": utc_stamp(record.wall),
        "timestamp": record.wall,  # SPLP: the same instant in epoch seconds
        "correlationId": record.request_id.decode("latin-1"),
        "traceId": _trace_id(headers[b"traceparent"]) if b"traceparent" in headers else "",  # SPLP
        "apiMethod": scope["method"],
        "path": _target(scope),  # SPLP: path and query as the client sent them
        "userIp": client[0] if client else "",
        "userAgentHeader": headers.get(b"user-agent", b"").decode("latin-1"),
        "referer": headers.get(b"referer", b"").decode("latin-1"),  # SPLP
        "proxyResponseCode": status,
        "targetResponseCode": 0,
        "responseLatency": round(total * 1000.0, 3),
        "responseSize": record.response_bytes,  # SPLP
        "requestSize": int(length) if length.isdigit() else 0,  # SPLP; a media policy notes streamed sizes
    }
    backend = 0.0
    if ctx is not None:
        config = ctx.api.definition.config
        resource = ctx.resource
        event["apiName"] = config.name
        event["apiVersion"] = config.version
        event["apiContext"] = ctx.api.prefix
        event["apiCreatorTenantDomain"] = config.tenant
        event["apiResourceTemplate"] = resource.template if resource is not None else ""
        event["destination"] = ctx.endpoint
        event["userTenantDomain"] = ctx.tenant or ""  # the caller's institution
        application = ctx.application
        if application is not None:
            event["applicationId"] = getattr(application, "id", "")
            event["applicationName"] = getattr(application, "name", "")
            event["applicationOwner"] = getattr(application, "owner", "")
        principal = ctx.principal
        if principal is not None:
            event["userName"] = getattr(principal, "username", None) or getattr(principal, "subject", "")
        answered = ctx.backend_answered
        if answered:
            event["targetResponseCode"] = status
            backend = answered - ctx.backend_started
            event["requestMediationLatency"] = round((ctx.backend_started - started) * 1000.0, 3)
            event["backendLatency"] = round(backend * 1000.0, 3)
            if record.responded:
                event["responseMediationLatency"] = round((record.responded - answered) * 1000.0, 3)
        else:
            event["requestMediationLatency"] = round(((record.responded or record.finished) - started) * 1000.0, 3)
        if ctx.marks:
            event["policyLatency"] = _policy_times(ctx, record)
        if ctx.failure:
            event["backendFailure"] = ctx.failure  # SPLP: the cause as text
            event["backendFailureKind"] = ctx.failure_kind  # SPLP: refused, unreachable, timeout_read, ...
    event["gatewayLatency"] = round((total - backend) * 1000.0, 3)  # SPLP: total minus backend
    if record.problem:
        try:
            problem = orjson.loads(record.problem)
        except orjson.JSONDecodeError:
            problem = {}
        event["errorCode"] = problem.get("code")
        event["errorType"] = problem.get("type")
        event["errorMessage"] = problem.get("detail")
    if ctx is not None:
        extra = ctx.extra
        if extra and "event" in extra:
            event.update(extra["event"])
        if ctx.api.chain.log_hooks:
            run_log_phase(ctx, event)
    return event
