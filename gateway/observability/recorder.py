"""The log phase at the gateway entry: one raw record per call into a bounded in-memory queue.

Per call this costs one `send` wrapper (status, bytes, when the response started) and one tuple
append; everything else (the analytics event, access-log line, metrics, sink writes) happens later, in
the background flush (gateway/observability/pipeline.py). A full queue drops the record and counts it:
observability never slows a call down or makes it wait.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from gateway.types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from gateway.observability.tracing import Tracing

_PROBLEM = b"application/problem+json"


class CallRecord(NamedTuple):
    wall: float  # time.time() at the entry
    started: float  # time.perf_counter() at the entry
    responded: float  # perf_counter() when the response head went out (0: never)
    finished: float  # perf_counter() when the call returned
    status: int  # 0: no response was sent (client gone)
    response_bytes: int
    request_id: bytes
    scope: Scope  # method, path, client, headers and the RequestContext at scope["gateway"]
    problem: bytes  # the body of a problem+json answered by the gateway itself, else b""


class Recorder:
    """Owns the queue. `dropped` counts records refused because the queue was full."""

    def __init__(self, queue_size: int, tracing: Tracing | None = None) -> None:
        self.tracing = tracing
        self.queue: list[CallRecord] = []
        self.queue_size = queue_size
        self.accepted = 0
        self.dropped = 0

    def take(self) -> list[CallRecord]:
        batch, self.queue = self.queue, []
        return batch

    async def observe(
        self,
        dispatch: Callable[[Scope, Receive, Send, bytes, bytes, bytes | None], Awaitable[None]],
        scope: Scope,
        receive: Receive,
        send: Send,
        request_id: bytes,
        host: bytes,
        cert_header: bytes | None,
    ) -> None:
        wall = time.time()
        started = time.perf_counter()
        state: list[Any] = [0, 0, 0.0, None]  # status, bytes, responded, problem chunks

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                state[1] += len(body)
                if state[3] is not None:
                    state[3].append(body)
            elif message["type"] == "http.response.start":
                state[0] = message["status"]
                state[2] = time.perf_counter()
                if state[0] >= 400:
                    for name, value in message.get("headers", ()):
                        if name == b"content-type" and value.startswith(_PROBLEM):
                            state[3] = []
            await send(message)

        vars(observed_send)["__wrapped__"] = send  # abort_response (gateway/server/protocol.py) finds the server's send
        tracing = self.tracing
        span = None
        if tracing is not None:
            span = scope["splp.span"] = tracing.start_call(scope)
            scope["splp.tracing"] = tracing
        try:
            await dispatch(scope, receive, observed_send, request_id, host, cert_header)
        finally:
            if span is not None and tracing is not None:
                ctx = scope.get("gateway")
                names = ctx.api.chain.names if ctx is not None else ()
                tracing.end_call(span, scope["method"], ctx, state[0], started, wall, names)
            queue = self.queue
            if len(queue) < self.queue_size:
                problem = b"".join(state[3])[:4096] if state[3] else b""
                queue.append(
                    CallRecord(
                        wall, started, state[2], time.perf_counter(), state[0], state[1], request_id, scope, problem
                    )
                )
                self.accepted += 1
            else:
                self.dropped += 1
