"""Hardened HTTP/1.1 server protocol: uvicorn's httptools protocol with limits on the request head.

uvicorn alone resets its keep-alive timer on every byte (so a slowloris client is never cut off), puts no
cap on header bytes or header count with httptools, starts the app as soon as the head is parsed, and
switches protocols on ``Upgrade``. This subclass closes those gaps:

- **Header deadline.** The request head must be complete ``header_timeout`` seconds after its first byte
  (for the first request of a connection: after the connection opened). Trickling bytes do not extend
  it. Past it the client gets 408 and the connection closes; a connection that never sent a byte is
  closed without a response. One ``call_at`` handle is armed only when a head is split over several
  reads; a head that arrives in one read (the normal case) costs no timer.
- **Header caps.** URL + header names + values above ``max_header_bytes``, or more than ``max_headers``
  fields: 431 problem+json, connection closed, app never called. The raw bytes buffered for an
  unfinished head are bounded too, so one endless header value cannot grow httptools' buffer.
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

Use ``protocol_class(limits)`` as uvicorn's ``http=``.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
from dataclasses import dataclass
from http import HTTPStatus
from inspect import CORO_CREATED, getcoroutinestate, iscoroutine
from typing import Any, ClassVar

import httptools
from uvicorn._types import ASGI3Application
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

__all__ = ["GatewayHttpToolsProtocol", "ServerLimits", "protocol_class"]


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Limits on the request head, enforced before the app sees the request."""

    header_timeout: float = 10.0  # seconds from the first byte of a request to the end of its head
    max_header_bytes: int = 16384  # URL + sum of header names and values
    max_headers: int = 100  # header fields per request

    def __post_init__(self) -> None:
        if not self.header_timeout > 0:
            raise ValueError(f"header_timeout must be > 0, got {self.header_timeout!r}")
        if self.max_header_bytes < 1 or self.max_headers < 1:
            raise ValueError("max_header_bytes and max_headers must be >= 1")


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

# A refusal: the status line, and the rest of the response after uvicorn's default headers.
_Response = tuple[bytes, bytes]


def _problem(status: int, detail: str) -> _Response:
    phrase = HTTPStatus(status).phrase
    body = json.dumps(
        {"type": "about:blank", "title": phrase, "status": status, "detail": detail}, separators=(",", ":")
    ).encode()
    rest = b"content-type: application/problem+json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s" % (
        len(body),
        body,
    )
    return STATUS_LINE[status], rest


_BAD_REQUEST = _problem(400, "Malformed HTTP request.")
_BAD_HOST = _problem(400, "Exactly one valid Host header (host[:port]) is required.")
_UPGRADE_WITH_BODY = _problem(400, "Protocol upgrade is not supported; an Upgrade request may not carry a body.")
_HEADER_TIMEOUT = _problem(408, "Request headers were not received in time.")


class _Refusal(Exception):
    """Raised from a parser callback to abort the request with a prebuilt response."""

    def __init__(self, response: _Response) -> None:
        super().__init__(response[0])
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
    _max_raw_head: ClassVar[int]
    _too_many_bytes: ClassVar[_Response]
    _too_many_headers: ClassVar[_Response]

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
        # Raw bytes of an unfinished head: the counted bytes plus ": " / CRLF per field and the request
        # line's method and version. Past this the head is over a cap whatever the rest holds.
        cls._max_raw_head = limits.max_header_bytes + 4 * limits.max_headers + 64
        cls._too_many_bytes = _problem(431, f"Request line and header fields exceed {limits.max_header_bytes} bytes.")
        cls._too_many_headers = _problem(431, f"More than {limits.max_headers} header fields.")

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
        self._head_bytes = 0
        self._host: bytes | None = None

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

    # Parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._host = None

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._head_bytes += len(url)
        if self._head_bytes > self._max_header_bytes:
            raise _Refusal(self._too_many_bytes)

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > self._max_header_bytes:
            raise _Refusal(self._too_many_bytes)
        if name == b"host":
            self._host = value if self._host is None else _DUPLICATE_HOST
        elif name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        headers = self.headers
        headers.append((name, value))
        if len(headers) > self._max_headers:
            raise _Refusal(self._too_many_headers)

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
        super().on_headers_complete()
        self._in_head = False

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
        if self._raw_head > self._max_raw_head:
            self.logger.info("Request head over %d bytes; closing connection.", self._max_raw_head)
            self._refuse(self._too_many_bytes, None)

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
        status_line, rest = response
        content = [status_line]
        for name, value in self.server_state.default_headers:
            content.extend((name, b": ", value, b"\r\n"))
        content.append(rest)
        self.transport.write(b"".join(content))
        self.transport.close()


GatewayHttpToolsProtocol._bind(ServerLimits())


def protocol_class(limits: ServerLimits) -> type[asyncio.Protocol]:
    """A GatewayHttpToolsProtocol subclass bound to ``limits``, for ``uvicorn.Config(http=...)``."""

    class BoundGatewayHttpToolsProtocol(GatewayHttpToolsProtocol, limits=limits):
        pass

    return BoundGatewayHttpToolsProtocol
