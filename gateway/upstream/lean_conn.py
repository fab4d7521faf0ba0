"""One keep-alive HTTP/1.1 connection of LeanClient: an asyncio Protocol parsing with httptools.

The connection carries the state of the one exchange in flight (no pipelining): `begin()` resets it,
the parser callbacks fill it, `LeanResponse` reads the body from it, `finish()` hands the connection
back to the pool or closes it. Per-exchange state lives on the connection, not in extra objects, so a
request costs the response wrapper, the header list and at most a future per wait.

Timeouts use one TimerHandle per exchange that re-arms itself (as aiohttp's read timeout does): data
only updates `_activity`, so streaming a body costs no timer churn.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
from collections import deque
from typing import TYPE_CHECKING

import httptools

from .base import Headers, Timeouts
from .errors import (
    UpstreamBodyError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)

if TYPE_CHECKING:
    from .lean import LeanClient

# Body buffering: pause the socket above HIGH buffered bytes, resume at or below LOW.
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024

_BAD_VALUE = re.compile(rb"[\r\n\x00]").search
_LINGER_RESET = struct.pack("ii", 1, 0)

# phases of the exchange
IDLE = 0  # in the pool or just connected
HEAD = 1  # request being written / waiting for the response head
BODY = 2  # head handed out, body streaming (or complete)


class _SkipBody(Exception):
    """Raised from on_headers_complete for a HEAD response: httptools cannot be told "no body"."""


class LeanConnection(asyncio.Protocol):
    # fmt: off
    __slots__ = (
        # identity, set once
        "key", "hostport", "_client", "_loop", "transport", "_parser", "_max_head",
        # connection state
        "closed", "idle", "idle_since", "_forgotten", "write_paused", "_drain_waiter", "writer_task",
        "inline_writing", "client_turn_since",
        # per-exchange state, reset by begin()
        "_phase", "_head_request", "_timeouts", "_total_deadline", "_timer", "_activity", "got_bytes",
        "request_sent", "lost_early", "exc", "status", "headers", "_head_size", "_head_fed", "_cl", "_te",
        "_conn_close", "_conn_ka", "_interim", "head_done", "_eof_body", "complete", "keep_alive",
        "_buf", "_buffered", "_reading_paused", "_read_waiter", "peak_buffered",
    )
    # fmt: on

    # per-exchange state, typed here and set by begin()
    _head_request: bool
    _timeouts: Timeouts
    _total_deadline: float
    _activity: float
    got_bytes: bool  # any response byte arrived
    request_sent: bool  # the whole request (head + body) is written
    lost_early: bool  # closed before any response byte: the keep-alive race
    status: int
    headers: Headers
    _head_size: int
    _head_fed: int
    _cl: bytes | None
    _te: bytes | None
    _conn_close: bool
    _conn_ka: bool
    _interim: bool
    _eof_body: bool  # no content-length, not chunked: the body ends with the connection
    keep_alive: bool

    def __init__(self, client: LeanClient, key: tuple[str, int], loop: asyncio.AbstractEventLoop, max_head: int):
        self.key = key
        self.hostport = f"{key[0]}:{key[1]}"
        self._client = client
        self._loop = loop
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self._parser = httptools.HttpResponseParser(self)
        self._max_head = max_head

        self.closed = False
        self.idle = False
        self.idle_since = 0.0
        self._forgotten = False
        self.write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self.writer_task: asyncio.Task[None] | None = None
        self.inline_writing = False
        self.client_turn_since = 0.0  # >0 while the request body writer awaits the client's next bytes

        self._phase = IDLE
        self._timer: asyncio.TimerHandle | None = None
        self._read_waiter: asyncio.Future[None] | None = None
        self._buf: deque[bytes] = deque()
        self._buffered = 0
        self._reading_paused = False
        self.peak_buffered = 0
        self.exc: UpstreamError | None = None
        self.complete = False
        self.head_done = False

    # ---- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake_drain()

    def eof_received(self) -> bool:
        return False  # let the transport close; connection_lost decides what the EOF means

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        if self.exc is None:
            phase = self._phase
            if phase == HEAD:
                self.lost_early = not self.got_bytes
                reason = f": {exc}" if exc is not None else ""
                # the same answer as the aiohttp client: 502 "backend closed", retried when idempotent
                self.exc = UpstreamBodyError(
                    f"upstream {self.hostport} closed the connection before the response headers{reason}"
                )
            elif phase == BODY and not self.complete:
                if self._eof_body and exc is None:
                    self.complete = True  # body delimited by the end of the connection
                    self.keep_alive = False
                else:
                    reason = f": {exc}" if exc is not None else ""
                    self.exc = UpstreamBodyError(
                        f"upstream {self.hostport} closed the connection before the end of the body{reason}"
                    )
        self._wake_read()
        self._wake_drain()
        self._forget()

    def data_received(self, data: bytes) -> None:
        unsolicited = self._phase == IDLE or self.complete  # not narrowed: feed_data's callbacks set `complete`
        if unsolicited:
            # Unsolicited bytes (a 408 before closing, garbage after the body): never reuse.
            self.keep_alive = False
            if self._phase == IDLE:
                self.abort()
            return
        self._activity = self._loop.time()
        self.got_bytes = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as e:
            cause = e.__context__
            if isinstance(cause, _SkipBody):
                self._parser = httptools.HttpResponseParser(self)  # the old one is in its error state
                self._wake_read()
            elif self.complete:
                self.keep_alive = False
            elif isinstance(cause, UpstreamError):
                self.fail(cause)
            else:
                self.fail(UpstreamProtocolError(f"invalid response from upstream {self.hostport}: {e}"))
            return
        except httptools.HttpParserUpgrade:
            self.fail(UpstreamProtocolError(f"upstream {self.hostport} switched protocols unasked"))
            return
        except httptools.HttpParserError as e:
            if self.complete:
                self.keep_alive = False  # bytes after the response: the connection is not clean
            else:
                self.fail(UpstreamProtocolError(f"invalid response from upstream {self.hostport}: {e}"))
            return
        if not self.head_done:
            self._head_fed += len(data)
            if self._head_fed > self._max_head:
                self.fail(self._too_large())

    # ---- httptools callbacks ----------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:
            return  # trailers (or bytes after the response): not passed on
        size = self._head_size + len(name) + len(value) + 4
        self._head_size = size
        if size > self._max_head:
            raise self._too_large()
        value = value.rstrip(b" \t")
        if _BAD_VALUE(value) is not None:
            raise UpstreamProtocolError(f"upstream {self.hostport} sent CR, LF or NUL in a header value")
        name = name.lower()
        if name == b"content-length":
            if self._cl is not None:
                # llhttp refuses duplicates too, identical or not; folding them would need leniency.
                raise UpstreamProtocolError(f"upstream {self.hostport} sent two content-length headers")
            self._cl = value
        elif name == b"transfer-encoding":
            self._te = value if self._te is None else self._te + b"," + value
        elif name == b"connection":
            lowered = value.lower()
            if b"close" in lowered:
                self._conn_close = True
            if b"keep-alive" in lowered:
                self._conn_ka = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.head_done:
            self.keep_alive = False  # a second response nobody asked for
            return
        status = self._parser.get_status_code()
        if status < 200:
            if status == 101 or status < 100:
                raise UpstreamProtocolError(f"upstream {self.hostport} sent status {status}")
            # Interim response (100, 103): dropped, the final one follows on the same connection.
            self.headers = []
            self._head_size = 0
            self._cl = self._te = None
            self._conn_close = self._conn_ka = False
            self._interim = True
            return
        if status > 599:
            raise UpstreamProtocolError(f"upstream {self.hostport} sent invalid status {status}")
        if self._cl is not None and self._te is not None:
            raise UpstreamProtocolError(f"upstream {self.hostport} sent both content-length and transfer-encoding")
        self.status = status
        self.head_done = True
        self._phase = BODY
        te = self._te
        self._eof_body = self._cl is None and (te is None or te.rpartition(b",")[2].strip().lower() != b"chunked")
        self._wake_read()
        self._wake_drain()
        if self._head_request:
            self.complete = True
            if self._parser.get_http_version() == "1.1":
                self.keep_alive = not self._conn_close
            else:
                self.keep_alive = self._conn_ka and not self._conn_close
            self._cancel_timer()
            raise _SkipBody

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
        self._buf.append(body)
        buffered = self._buffered + len(body)
        self._buffered = buffered
        if buffered > self.peak_buffered:
            self.peak_buffered = buffered
        if buffered > HIGH_WATER and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()
        waiter = self._read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        if self.complete:
            return
        self.complete = True
        self.keep_alive = self._parser.should_keep_alive()
        self._cancel_timer()
        self._wake_read()

    # ---- the exchange -----------------------------------------------------------------------------

    def begin(self, head_request: bool, timeouts: Timeouts, total_deadline: float) -> None:
        """Resets the per-exchange state and arms the timer; the head is written next."""
        self._phase = HEAD
        self._head_request = head_request
        self._timeouts = timeouts
        self._total_deadline = total_deadline
        self.got_bytes = False
        self.request_sent = False
        self.lost_early = False
        self.exc = None
        self.status = 0
        self.headers = []
        self._head_size = 0
        self._head_fed = 0
        self._cl = None
        self._te = None
        self._conn_close = False
        self._conn_ka = False
        self._interim = False
        self.head_done = False
        self._eof_body = False
        self.complete = False
        self.keep_alive = False
        self._buffered = 0
        self.peak_buffered = 0
        loop = self._loop
        self._activity = now = loop.time()
        self._timer = loop.call_at(min(total_deadline, now + timeouts.read), self._on_timer)

    def shift_total_deadline(self, seconds: float) -> None:
        """Time spent awaiting the client's body does not count toward the backend's total timeout."""
        self._total_deadline += seconds

    def sent(self) -> None:
        """The whole request is written: read silence counts from now."""
        self.request_sent = True
        self._activity = self._loop.time()

    async def wait_head(self) -> None:
        while not self.head_done:
            if self.exc is not None:
                raise self.exc
            await self._wait_read()

    async def read_chunk(self) -> bytes | None:
        """The next body bytes (all that is buffered, joined), or None at the end of the body."""
        buf = self._buf
        while True:
            if buf:
                if len(buf) == 1:
                    chunk = buf.popleft()
                    self._buffered -= len(chunk)
                else:
                    chunk = b"".join(buf)
                    buf.clear()
                    self._buffered = 0
                if self._reading_paused and self._buffered <= LOW_WATER:
                    self._reading_paused = False
                    if not self.closed:
                        self.transport.resume_reading()
                return chunk
            if self.complete:
                return None
            if self.exc is not None:
                raise self.exc
            self._activity = self._loop.time()
            await self._wait_read()

    async def drain(self) -> None:
        """Waits while the transport's write buffer is above its high-water mark. During the inline
        write it also returns once the response head is in, so the caller can hand the rest of the
        body to a task and return the response (full duplex, e.g. an echoing backend)."""
        while self.write_paused and not self.closed:
            if self.inline_writing and self.head_done:
                return
            waiter = self._loop.create_future()
            self._drain_waiter = waiter
            try:
                await waiter
            finally:
                self._drain_waiter = None

    def finish(self) -> None:
        """End of the exchange (LeanResponse.release): back to the pool if clean, else closed."""
        task = self.writer_task
        if task is not None:
            self.writer_task = None
            if not task.done():
                task.cancel()  # its handler aborts the transport
                self.request_sent = False
        self._cancel_timer()
        if self.closed:
            self._forget()
            return
        if not (self.complete and self.keep_alive and self.request_sent and self.exc is None):
            if self.request_sent:
                self.close()
            else:
                self.abort()  # the request is incomplete: a reset, never a clean end
            return
        self._buf.clear()
        self._buffered = 0
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()  # must see the server's EOF while idle
        self._phase = IDLE
        self._client._put(self)

    def fail(self, exc: UpstreamError) -> None:
        if self.exc is None:
            self.exc = exc
        self.abort()
        self._wake_read()
        self._wake_drain()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._cancel_timer()
            self.transport.close()
        self._forget()

    def abort(self) -> None:
        """Ends the connection with a reset (RST), so the backend can never mistake a cut request for a
        complete one: asyncio's transport.abort() alone closes with a FIN."""
        if not self.closed:
            self.closed = True
            self._cancel_timer()
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
                except OSError:
                    pass
            self.transport.abort()
        self._forget()

    # ---- internals --------------------------------------------------------------------------------

    def _forget(self) -> None:
        if not self._forgotten:
            self._forgotten = True
            self._client._forget(self)

    async def _wait_read(self) -> None:
        waiter = self._loop.create_future()
        self._read_waiter = waiter
        try:
            await waiter
        finally:
            self._read_waiter = None

    def _wake_read(self) -> None:
        waiter = self._read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_drain(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _cancel_timer(self) -> None:
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()

    def _on_timer(self) -> None:
        self._timer = None
        if self.closed or self.complete:
            return
        now = self._loop.time()
        read = self._timeouts.read
        if not self.head_done:
            if self.client_turn_since and not self.request_sent:
                # Waiting on the client's body, not on the backend: check again later.
                self._timer = self._loop.call_at(now + read, self._on_timer)
                return
            if now >= self._total_deadline:
                self.fail(
                    UpstreamTimeout(
                        f"no response headers from upstream {self.hostport} within the total timeout "
                        f"of {self._timeouts.total}s",
                        "total",
                    )
                )
                return
            if self.request_sent:
                if now >= self._activity + read:
                    self.fail(self._read_timeout())
                    return
                when = min(self._total_deadline, self._activity + read)
            else:
                when = min(self._total_deadline, now + read)
        elif self._read_waiter is not None:
            if now >= self._activity + read:
                self.fail(self._read_timeout())
                return
            when = self._activity + read
        else:
            when = now + read  # the consumer holds buffered bytes: not the server's silence
        self._timer = self._loop.call_at(when, self._on_timer)

    def _read_timeout(self) -> UpstreamTimeout:
        return UpstreamTimeout(f"upstream {self.hostport} sent nothing for {self._timeouts.read}s", "read")

    def _too_large(self) -> UpstreamProtocolError:
        return UpstreamProtocolError(f"response headers from upstream {self.hostport} exceed {self._max_head} bytes")
