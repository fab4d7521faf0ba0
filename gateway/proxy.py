"""The terminal app of every API chain: forwards the request to a backend endpoint and streams back.

- Endpoint choice: the API's EndpointPool (weighted round-robin, passive health).
- Failover: a connect failure (nothing sent, body untouched) moves on to the next endpoint, any method.
- Retries: only idempotent methods without a body, only before any byte reached the client.
- Bodies stream both ways; nothing is buffered. A client body that breaks off aborts the upstream
  request; a backend body that breaks off ends the client connection uncleanly (we raise, the server
  closes the socket) so a truncated answer never looks complete.
- Slow clients are the client's problem: a body past its idle timeout or its deadline is answered 408
  and the upstream request reset, and it never counts against the backend's passive health.
- Failures: the client gets problem+json naming what failed (timeout, refused, cut) but never a backend
  address; the operator's log gets one warning with API, endpoint URL and cause.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from gateway import errors
from gateway.config.model import ApiDefinition, TimeoutsConfig
from gateway.context import RequestContext
from gateway.headers import HOP_BY_HOP, connection_listed
from gateway.types import Receive, Scope, Send
from gateway.upstream.base import Endpoint, Timeouts, UpstreamClient, UpstreamRequest, UpstreamResponse
from gateway.upstream.errors import (
    ClientBodyAborted,
    ClientBodyTimeout,
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from gateway.upstream.pool import EndpointPool

log = logging.getLogger("splp.proxy")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# Request headers the proxy rewrites or that belong to the client connection only.
_DROP_REQUEST = HOP_BY_HOP | {b"host", b"content-length", b"expect", b"forwarded", b"x-request-id"}
_DROP_RESPONSE = HOP_BY_HOP


@dataclass(frozen=True, slots=True)
class BodyPace:
    """How slow a client's request body may be (gateway.limits, or the API's override).

    `idle`: longest silence. `deadline`: seconds from the first read, plus one second per `min_rate`
    bytes received (Apache mod_reqtimeout's body=,MinRate= rule), so a steady upload of any size passes
    and a trickle does not; 0 = no deadline (media APIs rely on `idle` alone)."""

    idle: float = 30.0
    deadline: float = 60.0
    min_rate: int = 1024


class RequestBody:
    """Pulls the client's body from ASGI receive() as the upstream client asks for it.

    A client past its BodyPace (silent for `idle`, or slower than the deadline allows) is cut off
    (slow-body slowloris): ClientBodyTimeout, so the upstream request is reset and the client answered 408.
    `waiting` is True while the client's next bytes are awaited: a backend timeout that strikes then was
    the client's time, not the backend's.
    """

    __slots__ = ("_receive", "_pace", "_cutoff", "started", "waiting", "failed")

    def __init__(self, receive: Receive, pace: BodyPace) -> None:
        self._receive = receive
        self._pace = pace
        self._cutoff = 0.0  # loop time the body must be complete by (0: no deadline); set on first read
        self.started = False
        self.waiting = False
        self.failed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        receive = self._receive
        idle, deadline, min_rate = self._pace.idle, self._pace.deadline, self._pace.min_rate
        loop = asyncio.get_running_loop()
        if not self.started:  # an upstream client may iterate twice (inline, then in a task): one deadline
            self.started = True
            self._cutoff = loop.time() + deadline if deadline else 0.0
        while True:
            cutoff = self._cutoff
            now = loop.time()
            until = now + idle
            if cutoff and cutoff < until:
                until = cutoff
            self.waiting = True
            try:
                async with asyncio.timeout_at(until):
                    message = await receive()
            except TimeoutError:
                self.failed = True
                if cutoff and until == cutoff:
                    raise ClientBodyTimeout(
                        f"request body slower than allowed ({deadline:g} s, plus 1 s per {min_rate} bytes)"
                    ) from None
                raise ClientBodyTimeout(f"no request body bytes for {idle:g} s") from None
            self.waiting = False
            if message["type"] == "http.disconnect":
                self.failed = True
                raise ClientBodyAborted("client body ended before its final chunk")
            chunk = message.get("body", b"")
            if chunk:
                if cutoff and min_rate:
                    self._cutoff = cutoff + len(chunk) / min_rate
                yield chunk
            if not message.get("more_body", False):
                return


def _client_problem(exc: UpstreamError, timeouts: Timeouts) -> tuple[errors.Problem, str]:
    """What the client is told: the kind of failure, never the backend's address (the log has that)."""
    if isinstance(exc, UpstreamTimeout):
        if exc.phase == "connect":
            return errors.BACKEND_TIMEOUT, f"no connection to the backend within {timeouts.connect:g} s"
        if exc.phase == "read":
            return errors.BACKEND_TIMEOUT, f"the backend sent nothing for {timeouts.read:g} s"
        return errors.BACKEND_TIMEOUT, f"the backend did not answer within {timeouts.total:g} s"
    if isinstance(exc, UpstreamConnectError):
        return errors.BACKEND_UNREACHABLE, "the backend refused or could not take the connection"
    if isinstance(exc, UpstreamProtocolError):
        return errors.BACKEND_BAD_RESPONSE, "the backend sent a response the gateway does not pass on"
    return errors.BACKEND_CLOSED, "the backend closed the connection before answering"


def timeouts_from_config(config: TimeoutsConfig) -> Timeouts:
    return Timeouts(connect=config.connect, read=config.read, total=config.total)


class ProxyApp:
    def __init__(
        self,
        api: ApiDefinition,
        pool: EndpointPool,
        clients: dict[str, UpstreamClient],
        default_client: str,
        default_timeouts: Timeouts,
        default_retries: int,
        body_pace: BodyPace,
    ) -> None:
        # config-derived
        backend = api.config.backend
        self._api_name = f"{api.config.name} ({api.config.prefix})"
        self._pool = pool
        self._clients = tuple(
            clients["aiohttp"] if endpoint.scheme == "https" else clients[default_client] for endpoint in pool.endpoints
        )
        self._retries = backend.retries if backend.retries is not None else default_retries
        self._preserve_host = backend.preserve_host
        self._body_pace = body_pace
        self._timeouts = timeouts_from_config(backend.timeouts) if backend.timeouts else default_timeouts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx: RequestContext = scope["gateway"]
        if ctx.resource is None:  # OPTIONS on a path without it, not answered by a CORS policy
            return await errors.send_problem(
                send,
                errors.METHOD_NOT_ALLOWED,
                "OPTIONS is not allowed for this resource",
                ctx.request_id,
                headers=[(b"allow", ", ".join(sorted(ctx.extra["allow"])).encode())] if ctx.extra else None,
            )
        method: str = scope["method"]
        headers, content_length, has_body = self._request_headers(scope, ctx)
        body = RequestBody(receive, self._body_pace) if has_body else None
        picked = await self._exchange(method, ctx, headers, body, content_length, send)
        if picked is None:
            return
        await self._relay(picked[0], picked[1], body, ctx, send)

    def _request_headers(self, scope: Scope, ctx: RequestContext) -> tuple[list[tuple[bytes, bytes]], int | None, bool]:
        out: list[tuple[bytes, bytes]] = []
        content_length: int | None = None
        chunked = False
        forwarded_for = b""
        # The fields the client listed in Connection are already gone (the server protocol removed them
        # before the chain ran): what is here now includes what policies added, and that stays.
        for name, value in scope["headers"]:
            if name in _DROP_REQUEST:
                if name == b"content-length":
                    content_length = int(value)
                elif name == b"transfer-encoding":
                    chunked = True
                elif name == b"host" and self._preserve_host:
                    out.append((name, value))
                continue
            if name == b"x-forwarded-for":
                forwarded_for = value + b", "
                continue
            out.append((name, value))
        client = ctx.client_ip.encode("latin-1")
        proto = scope.get("scheme", "http").encode("latin-1")
        out.append((b"x-forwarded-for", forwarded_for + client))
        out.append((b"x-forwarded-proto", proto))
        if ctx.host:
            out.append((b"x-forwarded-host", ctx.host))
        node = b'"[' + client + b']"' if b":" in client else client
        out.append((b"forwarded", b"for=" + node + b";proto=" + proto + (b";host=" + ctx.host if ctx.host else b"")))
        out.append((b"x-request-id", ctx.request_id))  # the client's own, when it sent a valid one
        has_body = chunked or bool(content_length)
        return out, (content_length if not chunked else None), has_body

    async def _exchange(
        self,
        method: str,
        ctx: RequestContext,
        headers: list[tuple[bytes, bytes]],
        body: RequestBody | None,
        content_length: int | None,
        send: Send,
    ) -> tuple[UpstreamResponse, Endpoint] | None:
        pool = self._pool
        tried: tuple[int, ...] = ()
        retries_left = self._retries if (method in IDEMPOTENT and body is None) else 0
        failure: UpstreamError | None = None  # the last attempt's, reported when no endpoint is left
        timeouts = self._timeouts
        while True:
            index = pool.pick(tried)
            if index is None:
                if failure is not None:
                    await self._send_failure(send, ctx, failure)
                else:
                    await errors.send_problem(
                        send,
                        errors.BACKENDS_UNHEALTHY,
                        "every backend endpoint of this API is suspended after failures",
                        ctx.request_id,
                        headers=[(b"retry-after", str(pool.retry_after()).encode())],
                    )
                return None
            endpoint = pool.endpoints[index]
            target = endpoint.base_path + ctx.upstream_path
            if not self._preserve_host:
                request_headers = [(b"host", endpoint.host_header), *headers]
            else:
                request_headers = headers
            request = UpstreamRequest(method, endpoint, target, request_headers, body, content_length, timeouts)
            try:
                response = await self._clients[index].send(request)
            except ClientBodyAborted:
                log.info("request %s: client body aborted; upstream request reset", ctx.request_id.decode())
                raise
            except UpstreamError as exc:
                if body is not None and body.waiting and isinstance(exc, UpstreamTimeout):
                    # The clock ran out while the client's body was awaited (aiohttp's total covers the
                    # upload): the client's slowness, not the backend's.
                    raise ClientBodyTimeout(f"request body still incomplete after {timeouts.total:g} s") from None
                self._log_failure(ctx, endpoint, exc)
                pool.failed(index)
                tried += (index,)
                failure = exc
                nothing_sent = isinstance(exc, UpstreamConnectError) or (
                    isinstance(exc, UpstreamTimeout) and exc.phase == "connect"
                )
                if nothing_sent and not (body is not None and body.started):
                    continue  # as safe as a refused connection: fail over, any method
                if retries_left > 0 and not isinstance(exc, UpstreamProtocolError):
                    retries_left -= 1
                    continue
                await self._send_failure(send, ctx, exc)
                return None
            pool.succeeded(index)
            return response, endpoint

    async def _send_failure(self, send: Send, ctx: RequestContext, exc: UpstreamError) -> None:
        problem, detail = _client_problem(exc, self._timeouts)
        await errors.send_problem(send, problem, detail, ctx.request_id)

    def _log_failure(self, ctx: RequestContext, endpoint: Endpoint, exc: UpstreamError, what: str = "failed") -> None:
        log.warning(
            "request %s: API %s, endpoint %s %s: %s", ctx.request_id.decode(), self._api_name, endpoint.url, what, exc
        )

    async def _relay(
        self,
        response: UpstreamResponse,
        endpoint: Endpoint,
        body: RequestBody | None,
        ctx: RequestContext,
        send: Send,
    ) -> None:
        headers = response.headers
        listed: set[bytes] | None = None
        for name, value in headers:
            if name == b"connection":
                listed = connection_listed(value) if listed is None else listed | connection_listed(value)
        drop = _DROP_RESPONSE if not listed else _DROP_RESPONSE | listed
        out = [(name, value) for name, value in headers if name not in drop]
        out.append((b"x-request-id", ctx.request_id))
        if ctx.response_headers:
            out += ctx.response_headers
        await send({"type": "http.response.start", "status": response.status, "headers": out})
        try:
            async for chunk in response.iter_body():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except UpstreamError as exc:
            await response.release()  # not read to the end: the connection is closed, not pooled
            if body is not None and body.failed:
                log.info("request %s: client body failed while the response streamed", ctx.request_id.decode())
            else:
                self._log_failure(ctx, endpoint, exc, "cut its response")
            raise  # the gateway app ends the client connection under the truncated response
        except BaseException:
            await response.release()
            raise
        await response.release()
        await send({"type": "http.response.body", "body": b"", "more_body": False})
