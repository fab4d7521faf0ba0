"""LeanClient: a keep-alive HTTP/1.1 upstream client on asyncio Protocols and httptools (plain http only).

Why: the aiohttp client cost ~60% of a minimal proxy's time; this one does the same job with a
protocol per connection (lean_conn.py), a LIFO pool per (host, port) and precomputed bytes.

Pool: every open or connecting connection holds a slot; `limit` caps all slots, `limit_per_host` the
slots of one (host, port). A request that finds no idle connection and no free slot waits in FIFO order
(bounded by the connect timeout); a released connection goes straight to a waiter for its host, a
closed one frees a slot for the first waiter that may use it, evicting an idle connection of another
host when only the total limit is in the way. Idle connections are swept by one pool-level timer.

Retry: a request without a body that meets a closed connection on a *reused* connection before any
response byte (the keep-alive race: the server closed it while we picked it) is sent once more on a
fresh connection. Everything else raises.

Framing decisions: duplicate content-length headers are refused even when identical (llhttp refuses
them, folding would need its lenient mode); trailers are dropped; interim 1xx responses are skipped.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections import deque

from .base import Timeouts, UpstreamRequest
from .errors import UpstreamBodyError, UpstreamConnectError, UpstreamProtocolError, UpstreamTimeout
from .lean_body import BodyWriter, LeanResponse
from .lean_conn import HIGH_WATER, LeanConnection

Key = tuple[str, int]

_METHODS: dict[str, bytes] = {
    m: m.encode("ascii") + b" " for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
_VERSION_CRLF = b" HTTP/1.1\r\n"
_SEP = b": "
_CRLF = b"\r\n"
_CHUNKED_END_OF_HEAD = b"transfer-encoding: chunked\r\n\r\n"
_SLOT = object()  # a waiter's result: a slot was reserved for it, go connect


def _os_reason(error: OSError) -> str:
    """ "Connection refused (errno 111)" rather than asyncio's "Connect call failed ('1.2.3.4', 80)"."""
    if isinstance(error, socket.gaierror) or not error.errno:
        return error.strerror or str(error)
    return f"{os.strerror(error.errno)} (errno {error.errno})"


def _method_prefix(method: str) -> bytes:
    prefix = _METHODS.get(method)
    if prefix is not None:
        return prefix
    if method == "CONNECT" or not _TOKEN(method):
        raise UpstreamProtocolError(f"method {method!r} cannot be proxied")
    return method.encode("ascii") + b" "


def request_head(request: UpstreamRequest) -> bytes:
    """Request line + headers + framing as one bytes object. Framing headers given by the caller are
    dropped: framing is the client's business."""
    parts = [_method_prefix(request.method), request.target, _VERSION_CRLF]
    append = parts.append
    for name, value in request.headers:
        if name == b"content-length" or name == b"transfer-encoding":
            continue
        append(name)
        append(_SEP)
        append(value)
        append(_CRLF)
    if request.body is None:
        append(_CRLF)
    elif request.content_length is not None:
        append(b"content-length: %d\r\n\r\n" % request.content_length)
    else:
        append(_CHUNKED_END_OF_HEAD)
    return b"".join(parts)


class LeanClient:
    """UpstreamClient for plain-http backends; see the module docstring."""

    def __init__(
        self,
        *,
        limit: int = 1000,
        limit_per_host: int = 100,
        keepalive_timeout: float = 30.0,
        max_response_header_bytes: int = 65536,
        stream_buffer: int = HIGH_WATER,
    ) -> None:
        if limit < 1 or limit_per_host < 1:
            raise ValueError("limit and limit_per_host must be at least 1")
        # config-derived
        self._limit = limit
        self._limit_per_host = min(limit_per_host, limit)
        self._keepalive = keepalive_timeout
        self._max_head = max_response_header_bytes
        self._stream_buffer = stream_buffer
        # shared: the pool
        self._idle: dict[Key, list[LeanConnection]] = {}  # LIFO stacks, oldest first
        self._open: dict[Key, int] = {}  # slots held per host (connected or connecting)
        self._total = 0
        self._waiters: deque[tuple[Key, asyncio.Future[object]]] = deque()
        self._conns: set[LeanConnection] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self._evicting = False
        self._closed = False

    # ---- UpstreamClient ---------------------------------------------------------------------------

    async def send(self, request: UpstreamRequest) -> LeanResponse:
        endpoint = request.endpoint
        if endpoint.scheme != "http":
            if endpoint.scheme == "https":
                raise UpstreamProtocolError("lean client does not speak TLS; use client: aiohttp")
            raise UpstreamProtocolError(f"lean client cannot reach scheme {endpoint.scheme!r}")
        head = request_head(request)
        loop = asyncio.get_running_loop()
        timeouts = request.timeouts
        total_deadline = loop.time() + timeouts.total
        key = (endpoint.host, endpoint.port)
        body = request.body
        head_request = request.method == "HEAD"
        fresh = False
        while True:
            conn, reused = await self._acquire(loop, key, timeouts, total_deadline, fresh)
            try:
                conn.begin(head_request, timeouts, total_deadline)
                conn.transport.write(head)
                if body is None:
                    conn.sent()
                else:
                    writer = BodyWriter(conn, body, request.content_length)
                    if not await writer.write(True):
                        conn.writer_task = loop.create_task(writer.run())
                await conn.wait_head()
            except (UpstreamProtocolError, UpstreamBodyError):
                conn.abort()
                if reused and body is None and conn.lost_early and not fresh:
                    fresh = True  # the keep-alive race: once more on a new connection
                    continue
                raise
            except BaseException:
                conn.abort()
                raise
            return LeanResponse(conn)

    async def aclose(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self._conns):
            if conn.writer_task is not None:
                conn.writer_task.cancel()
            if conn.idle:
                conn.close()
            else:
                conn.abort()  # an exchange in flight: its request may be incomplete
        while self._waiters:
            _, waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        await asyncio.sleep(0)  # let the transports run connection_lost

    # ---- pool -------------------------------------------------------------------------------------

    async def _acquire(
        self, loop: asyncio.AbstractEventLoop, key: Key, timeouts: Timeouts, total_deadline: float, fresh: bool
    ) -> tuple[LeanConnection, bool]:
        if not fresh:
            conn = self._pop_idle(key, loop)
            if conn is not None:
                return conn, True
        deadline = min(loop.time() + timeouts.connect, total_deadline)
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    if self._closed:
                        raise UpstreamConnectError("upstream client is closed")
                    if self._reserve(key):
                        break
                    got = await self._wait_turn(loop, key)
                    if got is _SLOT:
                        break
                    if isinstance(got, LeanConnection):
                        if not got.closed and not got.transport.is_closing():
                            return got, True
                        got.close()
                    if not fresh:
                        conn = self._pop_idle(key, loop)
                        if conn is not None:
                            return conn, True
                return await self._connect(loop, key), False
        except TimeoutError:
            which = (
                f"connect timeout of {timeouts.connect}s"
                if deadline < total_deadline
                else (f"total timeout of {timeouts.total}s")
            )
            raise UpstreamTimeout(
                f"no connection to upstream {key[0]}:{key[1]} within the {which}", "connect"
            ) from None

    async def _wait_turn(self, loop: asyncio.AbstractEventLoop, key: Key) -> object:
        waiter: asyncio.Future[object] = loop.create_future()
        entry = (key, waiter)
        self._waiters.append(entry)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                got = waiter.result()  # handed to us just as we gave up: give it back
                if got is _SLOT:
                    self._unreserve(key)
                elif isinstance(got, LeanConnection):
                    self._put(got)
            raise
        finally:
            try:
                self._waiters.remove(entry)
            except ValueError:
                pass

    async def _connect(self, loop: asyncio.AbstractEventLoop, key: Key) -> LeanConnection:
        """Opens a connection on a reserved slot; the slot is given back if that fails."""
        host, port = key
        try:
            _, conn = await loop.create_connection(
                lambda: LeanConnection(self, key, loop, self._max_head, self._stream_buffer), host, port
            )
        except OSError as e:
            self._unreserve(key)
            raise UpstreamConnectError(f"cannot connect to upstream {host}:{port}: {_os_reason(e)}") from e
        except BaseException:
            self._unreserve(key)
            raise
        if self._closed:
            conn._forgotten = True  # its slot goes back below
            conn.abort()
            self._unreserve(key)
            raise UpstreamConnectError("upstream client is closed")
        self._conns.add(conn)
        return conn

    def _pop_idle(self, key: Key, loop: asyncio.AbstractEventLoop) -> LeanConnection | None:
        stack = self._idle.get(key)
        while stack:
            conn = stack.pop()
            conn.idle = False
            if conn.closed or conn.transport.is_closing():
                conn.close()
                continue
            if loop.time() - conn.idle_since > self._keepalive:
                conn.close()  # the freshest one expired, so did all older ones
                for old in list(stack):
                    old.close()
                return None
            return conn
        return None

    def _reserve(self, key: Key) -> bool:
        held = self._open.get(key, 0)
        if held >= self._limit_per_host:
            return False
        if self._total >= self._limit and not self._evict_idle():
            return False
        self._open[key] = held + 1
        self._total += 1
        return True

    def _unreserve(self, key: Key, wake: bool = True) -> None:
        held = self._open[key] - 1
        if held:
            self._open[key] = held
        else:
            del self._open[key]
        self._total -= 1
        if wake and self._waiters:
            self._wake_for_slots()

    def _evict_idle(self) -> bool:
        """Closes the oldest idle connection of any host (the total limit is in the way)."""
        oldest: LeanConnection | None = None
        for stack in self._idle.values():
            if stack and (oldest is None or stack[0].idle_since < oldest.idle_since):
                oldest = stack[0]
        if oldest is None:
            return False
        self._evicting = True  # the freed slot is the caller's, not the waiters'
        try:
            oldest.close()
        finally:
            self._evicting = False
        return True

    def _wake_for_slots(self) -> None:
        """Reserves slots for the first waiters that may now open a connection."""
        for entry in list(self._waiters):
            key, waiter = entry
            if waiter.done():
                continue
            if self._idle.get(key):
                self._waiters.remove(entry)
                conn = self._idle[key].pop()
                conn.idle = False
                waiter.set_result(conn)
                continue
            if not self._reserve(key):
                if self._total >= self._limit:
                    return
                continue  # this host is at its own limit; a later waiter may be for another host
            self._waiters.remove(entry)
            waiter.set_result(_SLOT)

    def _put(self, conn: LeanConnection) -> None:
        """A clean connection after its exchange: to a waiter for its host, else onto the idle stack."""
        if self._closed:
            conn.close()
            return
        key = conn.key
        if self._waiters:
            for entry in self._waiters:
                if entry[0] == key and not entry[1].done():
                    self._waiters.remove(entry)
                    entry[1].set_result(conn)
                    return
        loop = conn._loop
        conn.idle_since = loop.time()
        conn.idle = True
        stack = self._idle.get(key)
        if stack is None:
            stack = self._idle[key] = []
        stack.append(conn)
        if self._sweeper is None:
            self._sweeper = loop.call_at(conn.idle_since + self._keepalive, self._sweep)
        if self._waiters:
            self._wake_for_slots()

    def _forget(self, conn: LeanConnection) -> None:
        """A connection closed (either side): its slot is free."""
        self._conns.discard(conn)
        key = conn.key
        if conn.idle:
            conn.idle = False
            stack = self._idle.get(key)
            if stack is not None:
                try:
                    stack.remove(conn)
                except ValueError:
                    pass
        self._unreserve(key, wake=not self._evicting)

    def _sweep(self) -> None:
        self._sweeper = None
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        horizon = loop.time() - self._keepalive
        next_due = None
        for stack in list(self._idle.values()):
            while stack and stack[0].idle_since <= horizon:
                stack[0].close()
            if stack and (next_due is None or stack[0].idle_since < next_due):
                next_due = stack[0].idle_since
        for key in [k for k, s in self._idle.items() if not s]:
            del self._idle[key]
        if next_due is not None:
            self._sweeper = loop.call_at(next_due + self._keepalive, self._sweep)
