"""The status listener (default 127.0.0.1:8100, like Kong's status API): /_health, /_ready with store
details, and /metrics. It stays off the data port, so consumers never see store names or counters.

A raw ASGI app over the worker's GatewayApp. With several workers (prometheus_client multi-process mode,
PROMETHEUS_MULTIPROC_DIR set) /metrics aggregates every worker's files.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from gateway import errors, metrics
from gateway.types import Receive, Scope, Send

if TYPE_CHECKING:
    from gateway.app import GatewayApp

_JSON = [(b"content-type", b"application/json")]


def render_metrics(registry: CollectorRegistry) -> bytes:
    """This worker's registry, plus every worker's values in multi-process mode."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return generate_latest(registry)
    merged = CollectorRegistry()
    MultiProcessCollector(merged, path=folder)  # type: ignore[no-untyped-call]  # prometheus_client: unannotated __init__
    return generate_latest(merged) + generate_latest(registry)


class StatusApp:
    def __init__(self, gateway: GatewayApp) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # served with lifespan off
            return
        path = scope["path"]
        headers = _JSON
        if path == "/_health":
            status, body = 200, b'{"status":"ok"}'
        elif path == "/_ready":
            status, report = await self.gateway.readiness()
            body = orjson.dumps(report)
        elif path == "/metrics":
            status, body, headers = 200, render_metrics(self.gateway.metrics), metrics.HEADERS
        else:
            return await errors.send_problem(send, errors.NO_API, f"the status listener has no {path}", None)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
