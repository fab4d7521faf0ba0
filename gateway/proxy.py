"""The terminal app of every API chain: forwards the request to a backend endpoint and streams back.

- Endpoint choice: the API's EndpointPool (weighted round-robin, passive health).
- Failover: a connect failure (nothing sent, body untouched) moves on to the next endpoint, any method.
- Retries: only idempotent methods without a body, only before any byte reached the client.
- Bodies stream both ways; nothing is buffered. A client body that breaks off aborts the upstream
  request; a backend body that breaks off ends the client connection uncleanly (we raise, the server
  closes the socket) so a truncated answer never looks complete.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from gateway import errors
from gateway.config.model import ApiDefinition, TimeoutsConfig
from gateway.context import RequestContext
from gateway.headers import HOP_BY_HOP, connection_listed
from gateway.types import Receive, Scope, Send
from gateway.upstream.base import Timeouts, UpstreamClient, UpstreamRequest, UpstreamResponse
from gateway.upstream.errors import (
    ClientBodyAborted,
    ClientBodyTimeout,
    UpstreamBodyError,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from gateway.upstream.pool import EndpointPool

log = logging.getLogger("splp.proxy")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# Request headers the proxy rewrites or that belong to the client connection only.
_DROP_REQUEST = HOP_BY_HOP | {b"host", b"content-length", b"expect", b"forwarded", b"x-request-id"}
_DROP_RESPONSE = HOP_BY_HOP


class RequestBody:
    """Pulls the client's body from ASGI receive() as the upstream client asks for it.

    A client silent for `idle_timeout` mid-body is cut off (slow-body slowloris): the upstream request is
    reset and the client answered 408.
    """

    __slots__ = ("_receive", "_idle_timeout", "started")

    def __init__(self, receive: Receive, idle_timeout: float) -> None:
        self._receive = receive
        self._idle_timeout = idle_timeout
        self.started = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.started = True
        receive = self._receive
        idle_timeout = self._idle_timeout
        while True:
            try:
                async with asyncio.timeout(idle_timeout):
                    message = await receive()
            except TimeoutError:
                raise ClientBodyTimeout(f"no request body bytes for {idle_timeout:g} s") from None
            if message["type"] == "http.disconnect":
                raise ClientBodyAborted("client body ended before its final chunk")
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


def _problem_for(exc: Exception) -> errors.Problem:
    if isinstance(exc, UpstreamTimeout):
        return errors.BACKEND_TIMEOUT
    if isinstance(exc, UpstreamProtocolError):
        return errors.BACKEND_BAD_RESPONSE
    return errors.BACKEND_CLOSED


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
        body_timeout: float,
    ) -> None:
        # config-derived
        backend = api.config.backend
        self._pool = pool
        self._clients = tuple(
            clients["aiohttp"] if endpoint.scheme == "https" else clients[default_client] for endpoint in pool.endpoints
        )
        self._retries = backend.retries if backend.retries is not None else default_retries
        self._preserve_host = backend.preserve_host
        self._body_timeout = body_timeout
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
        body = RequestBody(receive, self._body_timeout) if has_body else None
        response = await self._exchange(method, ctx, headers, body, content_length, send)
        if response is None:
            return
        await self._relay(response, ctx, send)

    def _request_headers(self, scope: Scope, ctx: RequestContext) -> tuple[list[tuple[bytes, bytes]], int | None, bool]:
        out: list[tuple[bytes, bytes]] = []
        content_length: int | None = None
        chunked = False
        listed: set[bytes] | None = None
        forwarded_for = b""
        for name, value in scope["headers"]:
            if name in _DROP_REQUEST:
                if name == b"content-length":
                    content_length = int(value)
                elif name == b"transfer-encoding":
                    chunked = True
                elif name == b"connection":
                    listed = connection_listed(value) if listed is None else listed | connection_listed(value)
                elif name == b"host" and self._preserve_host:
                    out.append((name, value))
                continue
            if name == b"x-forwarded-for":
                forwarded_for = value + b", "
                continue
            out.append((name, value))
        if listed:
            out = [(n, v) for n, v in out if n not in listed or n == b"host"]
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
    ) -> UpstreamResponse | None:
        pool = self._pool
        tried: tuple[int, ...] = ()
        retries_left = self._retries if (method in IDEMPOTENT and body is None) else 0
        last_error: str = "no endpoint available"
        timeouts = self._timeouts
        while True:
            index = pool.pick(tried)
            if index is None:
                if not tried:
                    await errors.send_problem(
                        send,
                        errors.BACKENDS_UNHEALTHY,
                        "every backend endpoint of this API is suspended after failures",
                        ctx.request_id,
                        headers=[(b"retry-after", str(pool.retry_after()).encode())],
                    )
                else:
                    await errors.send_problem(send, errors.BACKEND_UNREACHABLE, last_error, ctx.request_id)
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
            except UpstreamConnectError as exc:
                pool.failed(index)
                last_error = exc.cause
                tried += (index,)
                if body is not None and body.started:
                    break
                continue
            except (UpstreamTimeout, UpstreamBodyError, UpstreamProtocolError) as exc:
                pool.failed(index)
                tried += (index,)
                if isinstance(exc, UpstreamTimeout) and exc.phase == "connect" and not (body and body.started):
                    last_error = exc.cause  # nothing was sent: as safe as a refused connection
                    continue
                if retries_left > 0 and not isinstance(exc, UpstreamProtocolError):
                    retries_left -= 1
                    continue
                await errors.send_problem(send, _problem_for(exc), exc.cause, ctx.request_id)
                return None
            except ClientBodyAborted:
                log.info("request %s: client body aborted; upstream request reset", ctx.request_id.decode())
                raise
            pool.succeeded(index)
            return response
        await errors.send_problem(send, errors.BACKEND_UNREACHABLE, last_error, ctx.request_id)
        return None

    async def _relay(self, response: UpstreamResponse, ctx: RequestContext, send: Send) -> None:
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
        except BaseException:
            await response.release()  # not read to the end: the connection is closed, not pooled
            raise
        await response.release()
        await send({"type": "http.response.body", "body": b"", "more_body": False})
