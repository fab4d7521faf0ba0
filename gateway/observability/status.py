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


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


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
        await _answer(send, status, body, headers)


class WorkersStatusApp:
    """The status listener of a multi-worker server, run in its own process beside the workers: /metrics
    aggregates every worker's prometheus_client files (multi-process mode); /_ready asks the data port,
    which one of the workers answers, for its status word (store details are per worker: see its log)."""

    def __init__(self, data_url: str) -> None:
        self.data_url = data_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        headers = _JSON
        if path == "/_health":
            status, body = 200, b'{"status":"ok"}'
        elif path == "/_ready":
            status, body = await self._ready()
        elif path == "/metrics":
            status, body, headers = 200, render_metrics(CollectorRegistry()), metrics.HEADERS
        else:
            return await errors.send_problem(send, errors.NO_API, f"the status listener has no {path}", None)
        await _answer(send, status, body, headers)

    async def _ready(self) -> tuple[int, bytes]:
        import aiohttp

        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
                async with http.get(f"{self.data_url}/_ready") as response:
                    return response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 503, orjson.dumps({"status": "unreachable", "detail": str(exc) or type(exc).__name__})
