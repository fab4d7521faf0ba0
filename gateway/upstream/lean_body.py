"""The two body streams of a LeanClient exchange: LeanResponse (the response body, pulled by the proxy)
and BodyWriter (the request body, pushed onto the connection with the transport's flow control)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator

from .base import Headers
from .errors import ClientBodyAborted, UpstreamProtocolError
from .lean_conn import LeanConnection

_CHUNK_END = b"\r\n"
_LAST_CHUNK = b"0\r\n\r\n"


class LeanResponse:
    """UpstreamResponse of LeanClient; it is its own body iterator."""

    __slots__ = ("status", "headers", "_conn")

    def __init__(self, conn: LeanConnection) -> None:
        self.status: int = conn.status
        self.headers: Headers = conn.headers
        self._conn: LeanConnection | None = conn

    def iter_body(self) -> AsyncIterator[bytes]:
        return self

    def __aiter__(self) -> LeanResponse:
        return self

    async def __anext__(self) -> bytes:
        conn = self._conn
        if conn is None:
            raise StopAsyncIteration
        chunk = await conn.read_chunk()
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    @property
    def peak_buffered(self) -> int:
        """Most body bytes this response held at once (for tests and metrics)."""
        conn = self._conn
        return conn.peak_buffered if conn is not None else 0

    async def release(self) -> None:
        conn = self._conn
        if conn is not None:
            self._conn = None
            conn.finish()


class BodyWriter:
    """Streams a request body onto a connection: inline in send(), then (if the response head
    arrives first) in a task, so a backend answering while it reads cannot deadlock us."""

    __slots__ = ("conn", "body", "remaining")

    def __init__(self, conn: LeanConnection, body: AsyncIterable[bytes], content_length: int | None) -> None:
        self.conn = conn
        self.body = body
        self.remaining = content_length  # None: chunked

    async def write(self, inline: bool) -> bool:
        """True when the body is written (or writing must stop because the connection ended after
        the response head came); False when inline and the head came first: continue in a task."""
        conn = self.conn
        transport = conn.transport
        conn.inline_writing = inline
        loop = conn._loop
        body = aiter(self.body)
        try:
            while True:
                # The client's turn: its own body limits bound it; the backend's total timeout stops.
                conn.client_turn_since = since = loop.time()
                try:
                    chunk = await anext(body)
                except StopAsyncIteration:
                    break
                finally:
                    conn.client_turn_since = 0.0
                    conn.shift_total_deadline(loop.time() - since)
                if conn.closed:
                    if conn.head_done:
                        return True  # the backend answered and closed; the response is what counts
                    raise conn.exc or UpstreamProtocolError(
                        f"upstream {conn.hostport} closed the connection while the request was sent"
                    )
                if not chunk:
                    continue  # an empty chunk would be the chunked terminator
                remaining = self.remaining
                if remaining is None:
                    transport.writelines((b"%x\r\n" % len(chunk), chunk, _CHUNK_END))
                else:
                    remaining -= len(chunk)
                    if remaining < 0:
                        raise ClientBodyAborted("request body longer than its content-length")
                    self.remaining = remaining
                    transport.write(chunk)
                if conn.write_paused:
                    await conn.drain()
                if inline and conn.head_done and not conn.closed:
                    return False
            if conn.closed:
                if conn.head_done:
                    return True
                raise conn.exc or UpstreamProtocolError(
                    f"upstream {conn.hostport} closed the connection while the request was sent"
                )
            if self.remaining is None:
                transport.write(_LAST_CHUNK)
            elif self.remaining:
                raise ClientBodyAborted("request body shorter than its content-length")
            conn.sent()
            return True
        except BaseException:
            conn.abort()  # a reset: the backend must never see a complete request
            raise
        finally:
            conn.inline_writing = False

    async def run(self) -> None:
        """The task half: errors end here; the aborted connection breaks the response body."""
        try:
            await self.write(False)
        except (Exception, asyncio.CancelledError):
            pass
