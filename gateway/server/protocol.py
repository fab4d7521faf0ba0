"""Hardened HTTP/1.1 server protocol: uvicorn's httptools protocol with limits on the request head.

uvicorn alone resets its keep-alive timer on every byte (so a slowloris client is never cut off), puts no
cap on header bytes or header count with httptools, starts the app as soon as the head is parsed, and
switches protocols on ``Upgrade``. This subclass closes those gaps:

- **Header deadline.** The request head must be complete ``header_timeout`` seconds after its first byte
  (for the first request of a connection: after the connection opened). Trickling bytes do not extend
  it. Past it the client gets 408 and the connection closes; a connection that never sent a byte is
  closed without a response. One ``call_at`` handle is armed only when a head is split over several
  reads; a head that arrives in one read (the normal case) costs no timer.
- **Head caps.** A request target longer than ``max_url_bytes``: 414. Header names + values above
  ``max_header_bytes``, or more than ``max_headers`` fields: 431. Either way the connection closes and the
  app is never called. The raw bytes buffered for an unfinished head are bounded too, so one endless
  header value cannot grow httptools' buffer.
- **Trailers are not headers.** llhttp reports the trailer fields of a chunked body through the same
  callback as header fields, and uvicorn appends them to the request's header list, which the app is
  already reading. Here they are counted (against ``max_header_bytes``) and dropped: a ``Host`` sent as a
  trailer can never change routing or what the backend sees. httptools buffers an unfinished field until
  it ends, so reads that bring no body bytes inside a chunk (a trailer section being sent) are bounded
  like an unfinished head.
- **Connection-listed fields.** Fields the client names in ``Connection`` are hop-by-hop (RFC 9110
  7.6.1): removed from the request before the app runs, so later layers (policies adding identity
  headers) never see a client-made list. Framing fields and ``Host`` stay: the proxy rewrites those.
- **Underscores in header names.** ``underscore_headers``: ``drop`` (default, as nginx: backends that
  fold ``_`` into ``-`` would otherwise see a client-made ``X-Auth-User``), ``reject`` (400) or ``pass``.
- **Strict framing.** Every llhttp leniency is off (uvicorn turns ``lenient_data_after_close`` on), so
  Content-Length with Transfer-Encoding, duplicate Content-Length, invalid Transfer-Encoding and bad
  chunks are refused with 400 and the connection closes. If the app was already scheduled for that
  request but has not run yet, its task is cancelled; if it is running, its ``receive()`` returns
  ``http.disconnect`` (never a final ``http.request``) and its ``send()`` becomes a no-op.
- **Host.** HTTP/1.1 (and later) requests need exactly one Host of the form ``host[:port]``; HTTP/1.0
  may omit it. Otherwise 400 before the app runs.
- **No protocol switch.** ``Upgrade`` (websocket, h2c) and ``CONNECT`` are served as plain HTTP/1.1
  requests and the connection stays HTTP/1.1, whatever ``ws=`` says. httptools skips the body of an
  upgrade request, so an upgrade request that declares a body is refused with 400 instead (otherwise
  its body would be parsed as the next request: a smuggling vector).

A refusal never writes into a response that is in flight (pipelining): that response finishes with
``connection: close`` semantics and the rest of the input is dropped.

Every refusal is RFC 9457 problem+json with ``code`` and ``request_id`` (the client's valid X-Request-ID,
else a new one), and the operator log names the same id.

Use ``protocol_class(limits)`` as uvicorn's ``http=``.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
from dataclasses import dataclass
from inspect import CORO_CREATED, getcoroutinestate, iscoroutine
from typing import Any, ClassVar, Literal

import httptools
from uvicorn._types import ASGI3Application
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from gateway import errors
from gateway.headers import connection_listed
from gateway.request_ids import request_id_of

__all__ = ["GatewayHttpToolsProtocol", "ServerLimits", "protocol_class"]


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Limits on the request head, enforced before the app sees the request."""

    header_timeout: float = 10.0  # seconds from the first byte of a request to the end of its head
    max_header_bytes: int = 16384  # sum of header names and values (and, separately, of trailers)
    max_headers: int = 100  # header fields per request
    max_url_bytes: int = 8192  # the request target (414 past it)
    underscore_headers: Literal["drop", "reject", "pass"] = "drop"

    def __post_init__(self) -> None:
        if not self.header_timeout > 0:
            raise ValueError(f"header_timeout must be > 0, got {self.header_timeout!r}")
        if self.max_header_bytes < 1 or self.max_headers < 1 or self.max_url_bytes < 1:
            raise ValueError("max_header_bytes, max_headers and max_url_bytes must be >= 1")
        if self.underscore_headers not in ("drop", "reject", "pass"):
            raise ValueError(f"underscore_headers must be drop, reject or pass, got {self.underscore_headers!r}")


# Every llhttp leniency, explicitly off (httptools 0.9 names).
_STRICT_PARSING: dict[str, bool] = dict.fromkeys(
    (
        "lenient_headers",
        "lenient_chunked_length",
        "lenient_keep_alive",
        "lenient_transfer_encoding",
        "lenient_version",
        "lenient_data_after_close",
        "lenient_optional_lf_after_cr",
        "lenient_optional_cr_before_lf",
        "lenient_optional_crlf_after_chunk",
        "lenient_spaces_after_chunk_size",
    ),
    False,
)

# host[:port]: a DNS-ish name or IPv4 literal, or a bracketed IPv6 literal; port digits. llhttp keeps
# trailing whitespace in values, and RFC 9112 allows it there (OWS), so it is accepted.
_HOST_RE = re.compile(rb"(?:[A-Za-z0-9][A-Za-z0-9._-]{0,252}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?[ \t]*")
# Stand-ins in the per-request Host slot: b"" fails _HOST_RE (so a second Host is rejected), b"\x00" can
# never be a header value (llhttp refuses NUL), so it is a safe "nothing validated yet" marker.
_DUPLICATE_HOST = b""
_NO_VALID_HOST = b"\x00"

# A refusal: the problem and its detail; the body is built when it is sent (it carries a request id).
_Response = tuple[errors.Problem, str]

_BAD_REQUEST = (errors.BAD_REQUEST, "Malformed HTTP request.")
_BAD_HOST = (errors.INVALID_HOST, "Exactly one valid Host header (host[:port]) is required.")
_UPGRADE_WITH_BODY = (
    errors.BAD_REQUEST,
    "Protocol upgrade is not supported; an Upgrade request may not carry a body.",
)
_HEADER_TIMEOUT = (errors.REQUEST_TIMEOUT, "Request headers were not received in time.")
_UNDERSCORE = (errors.INVALID_HEADER_NAME, "Header names with an underscore are not accepted.")
# Connection-listed names that are never removed: the proxy itself rewrites these.
_KEEP_WHEN_LISTED = frozenset({b"host", b"content-length", b"transfer-encoding", b"connection"})
_PASS, _DROP, _REJECT = 0, 1, 2
_UNDERSCORE_MODES = {"pass": _PASS, "drop": _DROP, "reject": _REJECT}


class _Refusal(Exception):
    """Raised from a parser callback to abort the request with a prebuilt response."""

    def __init__(self, response: _Response) -> None:
        super().__init__(response[1])
        self.response = response


class _DiscardParser:
    """Stands in for the parser once the connection's input is no longer parsed."""

    __slots__ = ()

    def feed_data(self, data: bytes | memoryview) -> None:
        pass

    def should_upgrade(self) -> bool:
        return False


_DISCARD = _DiscardParser()


class GatewayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HttpToolsProtocol with a header deadline, header caps, strict framing and no Upgrade."""

    # Config-derived, bound per class by _bind() (see protocol_class); never per connection.
    limits: ClassVar[ServerLimits]
    _header_timeout: ClassVar[float]
    _max_header_bytes: ClassVar[int]
    _max_headers: ClassVar[int]
    _max_url_bytes: ClassVar[int]
    _underscore: ClassVar[int]
    _max_raw_head: ClassVar[int]
    _too_many_bytes: ClassVar[_Response]
    _too_many_headers: ClassVar[_Response]
    _too_long_url: ClassVar[_Response]
    _too_many_trailer_bytes: ClassVar[_Response]

    def __init_subclass__(cls, *, limits: ServerLimits | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if limits is not None:
            cls._bind(limits)

    @classmethod
    def _bind(cls, limits: ServerLimits) -> None:
        cls.limits = limits
        cls._header_timeout = limits.header_timeout
        cls._max_header_bytes = limits.max_header_bytes
        cls._max_headers = limits.max_headers
        cls._max_url_bytes = limits.max_url_bytes
        cls._underscore = _UNDERSCORE_MODES[limits.underscore_headers]
        # Raw bytes of an unfinished head besides its target (capped on its own): the counted bytes plus
        # ": " / CRLF per field and the request line's method and version. Past this the head is over a
        # cap whatever the rest holds.
        cls._max_raw_head = limits.max_header_bytes + 4 * limits.max_headers + 64
        cls._too_many_bytes = (errors.HEADERS_TOO_LARGE, f"Header fields exceed {limits.max_header_bytes} bytes.")
        cls._too_many_headers = (errors.HEADERS_TOO_LARGE, f"More than {limits.max_headers} header fields.")
        cls._too_long_url = (errors.URI_TOO_LONG, f"The request target exceeds {limits.max_url_bytes} bytes.")
        cls._too_many_trailer_bytes = (
            errors.HEADERS_TOO_LARGE,
            f"Trailer fields exceed {limits.max_header_bytes} bytes.",
        )

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.parser.set_dangerous_leniencies(**_STRICT_PARSING)

        # Per-connection state
        self._header_timer: asyncio.TimerHandle | None = None
        self._raw_head = 0  # bytes read while a head stayed unfinished (only counted once the timer is armed)
        self._valid_host = _NO_VALID_HOST  # last Host value that passed _HOST_RE on this connection
        self._active: RequestResponseCycle | None = None  # cycle whose app task was started last
        self._active_task: asyncio.Task[None] | None = None

        # Per-request state (the head being parsed)
        self._in_head = False
        self._head_bytes = 0  # header bytes while in the head, then trailer bytes
        self._host: bytes | None = None
        self._listed: set[bytes] | None = None  # names the client listed in Connection
        self._in_chunk = False  # between a chunk's size line and its end (the last one's: its trailers)
        self._stalled = 0  # bytes read inside a chunk without any body bytes coming out

    # Protocol interface
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # The first request's deadline runs from the connection: an idle socket is not free either.
        self._header_timer = self.loop.call_at(self.loop.time() + self._header_timeout, self._on_header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        active = self._active
        # uvicorn only tells self.cycle; with pipelining the running cycle can be an earlier one.
        if active is not None and active is not self.cycle and not active.response_complete:
            active.disconnected = True
            active.message_event.set()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        in_chunk = self._in_chunk
        if in_chunk:
            body_before = len(self.cycle.body)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            if not self._continue_after_upgrade(data, upgrade.args[0]):
                return
        except httptools.HttpParserError as exc:
            self._on_parse_error(exc)
            return
        if self._in_head:
            self._head_pending(len(data))
        elif in_chunk and self._in_chunk:
            self._chunk_pending(len(data), body_before)

    # Parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._host = None
        self._listed = None

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self._max_url_bytes:
            raise _Refusal(self._too_long_url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value)
        if not self._in_head:
            # A trailer field of a chunked body: bounded, never a request header.
            if self._head_bytes > self._max_header_bytes:
                raise _Refusal(self._too_many_trailer_bytes)
            return
        if self._head_bytes > self._max_header_bytes:
            raise _Refusal(self._too_many_bytes)
        name = name.lower()
        if name == b"host":
            self._host = value if self._host is None else _DUPLICATE_HOST
        elif name == b"connection":
            listed = connection_listed(value) - _KEEP_WHEN_LISTED
            if listed:
                self._listed = listed if self._listed is None else self._listed | listed
        elif name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        elif b"_" in name and self._underscore:
            if self._underscore == _REJECT:
                raise _Refusal(_UNDERSCORE)
            return  # dropped (still counted above)
        headers = self.headers
        headers.append((name, value))
        if len(headers) > self._max_headers:
            raise _Refusal(self._too_many_headers)

    def on_chunk_header(self) -> None:
        self._in_chunk = True

    def on_chunk_complete(self) -> None:
        self._in_chunk = False
        self._stalled = 0

    def on_headers_complete(self) -> None:
        host = self._host
        if host != self._valid_host:
            if host is None:
                if self.parser.get_http_version() != "1.0":
                    raise _Refusal(_BAD_HOST)
            elif _HOST_RE.fullmatch(host) is None:
                raise _Refusal(_BAD_HOST)
            else:
                self._valid_host = host
        if self._header_timer is not None:
            self._cancel_header_timer()
        listed = self._listed
        if listed is not None:
            self.headers[:] = [field for field in self.headers if field[0] not in listed]  # the scope's list
        super().on_headers_complete()
        self._in_head = False
        self._head_bytes = 0  # from here on: trailer bytes

    # uvicorn hooks
    def _should_upgrade(self) -> bool:
        return False  # never switch protocols, whatever config.ws says

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        # As uvicorn's, but remembers the task so a request refused before its app ran can be cancelled.
        if self.config.reset_contextvars:
            task = self.loop.create_task(cycle.run_asgi(app), context=contextvars.Context())
        else:
            task = self.loop.create_task(cycle.run_asgi(app))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)
        self._active = cycle
        self._active_task = task

    # Slow paths
    def _head_pending(self, nbytes: int) -> None:
        """A read ended inside a request head: arm the deadline, or bound what has been buffered."""
        if self._header_timer is None:
            # The head started in this read, so now is (within one read) its first byte.
            self._header_timer = self.loop.call_at(self.loop.time() + self._header_timeout, self._on_header_timeout)
            return
        self._raw_head += nbytes
        if self._raw_head > self._max_raw_head + len(self.url):
            self.logger.info("Request head over %d bytes; closing connection.", self._max_raw_head)
            self._refuse(self._too_many_bytes, None)

    def _chunk_pending(self, nbytes: int, body_before: int) -> None:
        """A read ended inside a chunk: if it yielded no body bytes it fed a trailer section, so bound it."""
        cycle = self.cycle
        if len(cycle.body) != body_before or cycle.response_complete:
            self._stalled = 0  # body bytes flow (or are discarded after the response): not a trailer
            return
        self._stalled += nbytes
        if self._stalled > self._max_raw_head:
            self.logger.info("Trailer section over %d bytes; closing connection.", self._max_raw_head)
            self._refuse(self._too_many_trailer_bytes, cycle if cycle.more_body else None)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self._raw_head = 0

    def _on_header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if not self._in_head:
            self.transport.close()  # connected but never started a request
            return
        self.logger.info("Request head not complete after %.1fs; closing connection.", self._header_timeout)
        self._refuse(_HEADER_TIMEOUT, None)

    def _on_parse_error(self, exc: httptools.HttpParserError) -> None:
        refusal = exc.__context__
        if isinstance(refusal, _Refusal):
            response = refusal.response
        else:
            self.logger.warning("Invalid HTTP request received: %s", exc)
            response = _BAD_REQUEST
        cycle = self.cycle
        # Outside a head, an error belongs to the body of self.cycle if that body is still open; after a
        # complete body it belongs to whatever follows (data after close, a garbled next request).
        owner = cycle if not self._in_head and cycle is not None and cycle.more_body else None
        self._refuse(response, owner)

    def _continue_after_upgrade(self, data: bytes, offset: int) -> bool:
        """Serve an Upgrade/CONNECT request as plain HTTP: keep parsing what follows it as HTTP/1.1.

        httptools already resumed the parser. Returns False if the connection was refused.
        """
        view = memoryview(data)
        while True:
            if self._declares_body(self.headers):
                self.logger.info("Upgrade request with a body refused.")
                self._refuse(_UPGRADE_WITH_BODY, self.cycle)
                return False
            view = view[offset:]
            if not view:
                return True
            try:
                self.parser.feed_data(view)
            except httptools.HttpParserUpgrade as upgrade:
                offset = upgrade.args[0]
                continue
            except httptools.HttpParserError as exc:
                self._on_parse_error(exc)
                return False
            return True

    @staticmethod
    def _declares_body(headers: list[tuple[bytes, bytes]]) -> bool:
        for name, value in headers:
            if name == b"transfer-encoding" or (name == b"content-length" and int(value) != 0):
                return True
        return False

    def _refuse(self, response: _Response, owner: RequestResponseCycle | None) -> None:
        """Stop reading, answer ``response`` and close, without corrupting a response in flight.

        ``owner`` is the request whose body was being read when the error struck, if any: its app must
        not see a complete body, so it is cancelled if it has not run yet, and told it was disconnected.
        """
        self._cancel_header_timer()
        self._in_head = False
        self.parser = _DISCARD  # type: ignore[assignment]
        active = self._active
        if owner is not None:
            owner.disconnected = True  # receive() -> http.disconnect, send() -> no-op
            owner.message_event.set()
            task = self._active_task
            coro = task.get_coro() if task is not None else None
            if owner is active and task is not None and iscoroutine(coro) and getcoroutinestate(coro) == CORO_CREATED:
                task.cancel()  # scheduled in this same read: the app never runs
        if active is not None and not active.response_complete:
            if active is not owner:
                # A pipelined earlier response is in flight: let it finish, then close; drop the rest.
                active.keep_alive = False
                self.pipeline.clear()
                return
            if active.response_started:
                self.transport.close()
                return
        self._write_and_close(response)

    def _write_and_close(self, response: _Response) -> None:
        problem, detail = response
        request_id = request_id_of(self.headers)
        self.logger.info("Request %s refused with %d: %s", request_id.decode(), problem.status, detail)
        body = errors.problem_body(problem, detail, request_id)
        content = [STATUS_LINE[problem.status]]
        for name, value in self.server_state.default_headers:
            content.extend((name, b": ", value, b"\r\n"))
        content.append(
            b"content-type: application/problem+json\r\ncontent-length: %d\r\nx-request-id: %s\r\n"
            b"connection: close\r\n\r\n" % (len(body), request_id)
        )
        content.append(body)
        self.transport.write(b"".join(content))
        self.transport.close()


GatewayHttpToolsProtocol._bind(ServerLimits())


def abort_response(send: Any) -> None:
    """Closes the connection under a response that cannot complete (its backend cut it), quietly.

    ASGI has no message for "this response is cut": an app that returns early makes uvicorn log an error
    and close. ``send`` is the cycle's bound method when the gateway app is the server's app; marked
    disconnected, uvicorn neither logs nor writes more, and the client sees a short body, never a complete one.
    """
    cycle = getattr(send, "__self__", None)
    if isinstance(cycle, RequestResponseCycle):
        cycle.disconnected = True
        cycle.transport.close()


def protocol_class(limits: ServerLimits) -> type[asyncio.Protocol]:
    """A GatewayHttpToolsProtocol subclass bound to ``limits``, for ``uvicorn.Config(http=...)``."""

    class BoundGatewayHttpToolsProtocol(GatewayHttpToolsProtocol, limits=limits):
        pass

    return BoundGatewayHttpToolsProtocol
