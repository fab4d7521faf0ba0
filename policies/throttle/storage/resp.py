"""A lean RESP2 client for the throttle's one Lua script: one pipelined connection per worker.

Why our own transport and not the storage's coredis client: the throttle sends one command shape only
(EVALSHA of hit_all.lua, EVAL once after a NOSCRIPT, PING for readiness), and coredis' generic command
machinery cost about 150 us of CPU per call, more than everything else the policy does per request. Here a
call is one `transport.write` of bytes built from precomputed parts and one future in a FIFO deque; replies
are parsed incrementally (hiredis' C reader when installed, else the pure-Python Reader below) and handed to
the waiting futures in order. Commands are written at once, without waiting for earlier replies
(pipelining): Redis answers in order on one connection.

Failure is prompt by design: a lost connection fails every pending call at once; a call unanswered after
`timeout` seconds aborts the connection (and so fails every pending call); a failed connect makes the next
calls fail at once until a short backoff (doubling, at most MAX_BACKOFF) has passed. The next call after
that reconnects. The CounterStore above is the circuit breaker that decides what a failure means.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit

from policies.throttle.storage.base import bulk

MIN_BACKOFF = 0.05
MAX_BACKOFF = 0.5  # below CounterStore.retry_interval: the breaker's probe always gets a connect attempt


class ReplyError(Exception):
    """An error reply from Redis (-ERR, -NOSCRIPT, ...)."""


class ProtocolError(Exception):
    """Bytes that are not RESP2."""


_HiredisReader: type[Any] | None
try:  # hiredis' C reader when the wheel is installed; the same interface in pure Python otherwise
    from hiredis import Reader as _HiredisReader
except ImportError:  # pragma: no cover - depends on the environment
    _HiredisReader = None


class _Incomplete(Exception):
    pass


class Reader:
    """Incremental RESP2 parser with hiredis' interface: feed(bytes), then gets() until it returns False."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def gets(self) -> Any:
        try:
            reply, pos = self._parse(self._pos)
        except _Incomplete:
            return False
        if pos == len(self._buffer):
            self._buffer.clear()
            self._pos = 0
        else:
            self._pos = pos
        return reply

    def _parse(self, pos: int) -> tuple[Any, int]:
        buffer = self._buffer
        end = buffer.find(b"\r\n", pos)
        if end < 0:
            raise _Incomplete
        kind = buffer[pos]
        line = buffer[pos + 1 : end]
        pos = end + 2
        if kind == 58:  # ':' integer
            return int(line), pos
        if kind == 42:  # '*' array
            count = int(line)
            if count < 0:
                return None, pos
            items = []
            for _ in range(count):
                item, pos = self._parse(pos)
                items.append(item)
            return items, pos
        if kind == 36:  # '$' bulk string
            size = int(line)
            if size < 0:
                return None, pos
            if len(buffer) < pos + size + 2:
                raise _Incomplete
            return bytes(buffer[pos : pos + size]), pos + size + 2
        if kind == 43:  # '+' simple string
            return bytes(line), pos
        if kind == 45:  # '-' error
            return ReplyError(line.decode("utf-8", "replace")), pos
        raise ProtocolError(f"unexpected RESP type byte {kind!r}")


def new_reader() -> Any:
    if _HiredisReader is not None:
        return _HiredisReader(protocolError=ProtocolError, replyError=ReplyError)
    return Reader()


def command(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(bulk(p) for p in parts)


PING = command(b"PING")


class Script:
    """A Lua script's EVALSHA and EVAL headers, built once. A call is `header + body`, where body holds
    the bulk strings after the script (numkeys, keys, args) and `count` is their number."""

    def __init__(self, source: str) -> None:
        self.source = source.encode("utf-8")
        self.sha = hashlib.sha1(self.source).hexdigest().encode()  # noqa: S324 - Redis names scripts by SHA-1
        self._evalsha = b"\r\n$7\r\nEVALSHA\r\n" + bulk(self.sha)
        self._eval = b"\r\n$4\r\nEVAL\r\n" + bulk(self.source)

    def evalsha(self, count: int, body: bytes) -> bytes:
        return b"*%d%s%s" % (count + 2, self._evalsha, body)

    def eval(self, count: int, body: bytes) -> bytes:
        return b"*%d%s%s" % (count + 2, self._eval, body)


class Call:
    """One command in flight: the futures it answers (one reply split over several when `split`)."""

    __slots__ = ("futures", "split", "sent", "script", "count", "body")

    def __init__(
        self,
        futures: list[asyncio.Future[Any]],
        split: bool,
        script: Script | None = None,
        count: int = 0,
        body: bytes = b"",
    ) -> None:
        self.futures = futures
        self.split = split
        self.sent = 0.0
        self.script = script  # set for EVALSHA: a NOSCRIPT reply resends it as EVAL
        self.count = count
        self.body = body

    def fail(self, exc: BaseException) -> None:
        for future in self.futures:
            if not future.done():
                future.set_exception(exc)


class Connection(asyncio.Protocol):
    """One Redis connection: writes commands as they come, matches replies to calls in FIFO order."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[Call] = deque()
        self.reader = new_reader()
        self.closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, data: bytes, call: Call) -> None:
        if self.closed:
            call.fail(ConnectionError("redis connection closed"))
            return
        call.sent = self._loop.time()
        self.waiting.append(call)
        self.transport.write(data)  # type: ignore[union-attr]
        if self._timer is None:
            self._timer = self._loop.call_at(call.sent + self.timeout, self._check_timeout)

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        try:
            reader.feed(data)
            while (reply := reader.gets()) is not False:
                self._answer(self.waiting.popleft(), reply)
        except (ProtocolError, IndexError) as exc:  # garbage, or a reply nobody asked for
            self._close(ConnectionError(f"redis protocol error: {exc!r}"))

    def _answer(self, call: Call, reply: Any) -> None:
        if isinstance(reply, ReplyError):
            if call.script is not None and str(reply).startswith("NOSCRIPT"):
                # the script cache was flushed (or this is a new server): EVAL sends and caches the source
                script, call.script = call.script, None
                self.send(script.eval(call.count, call.body), call)
            else:
                call.fail(reply)
        elif call.split:
            for future, result in zip(call.futures, reply, strict=True):
                if not future.done():
                    future.set_result(result)
        elif not call.futures[0].done():
            call.futures[0].set_result(reply)

    def _check_timeout(self) -> None:
        self._timer = None
        if not self.waiting or self.closed:
            return
        due = self.waiting[0].sent + self.timeout
        if self._loop.time() >= due:
            self._close(TimeoutError(f"redis did not answer within {self.timeout}s"))
        else:
            self._timer = self._loop.call_at(due, self._check_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._close(ConnectionError(f"redis connection lost: {exc or 'closed by the server'}"))

    def _close(self, exc: Exception) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.transport.abort()
        waiting, self.waiting = self.waiting, deque()
        for call in waiting:
            call.fail(exc)

    def close(self) -> None:
        self._close(ConnectionError("redis connection closed by the client"))


class RedisClient:
    """Connects lazily to the `redis://`, `rediss://` or `redis+unix://` URI and keeps one connection."""

    def __init__(self, uri: str, *, timeout: float = 0.5) -> None:
        parts = urlsplit(uri.removeprefix("async+"))
        self.timeout = timeout
        self._path = unquote(parts.path) if parts.scheme == "redis+unix" else None
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 6379
        self._ssl = ssl.create_default_context() if parts.scheme == "rediss" else None
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        db = query.get("db") or (parts.path.strip("/") if self._path is None else "") or "0"
        self._handshake: list[bytes] = []
        if parts.password is not None:
            user = [unquote(parts.username).encode()] if parts.username else []
            self._handshake.append(command(b"AUTH", *user, unquote(parts.password).encode()))
        if db != "0":
            self._handshake.append(command(b"SELECT", db.encode()))
        self.connection: Connection | None = None  # set while connected and ready
        self._connecting: asyncio.Task[Connection] | None = None
        self._retry_at = 0.0
        self._backoff = MIN_BACKOFF
        self._tasks: set[asyncio.Task[None]] = set()

    async def connect(self) -> Connection:
        """The ready connection; connects (once, shared by concurrent callers) when there is none."""
        connection = self.connection
        if connection is not None and not connection.closed:
            return connection
        loop = asyncio.get_running_loop()
        if self._connecting is None:
            if loop.time() < self._retry_at:
                raise ConnectionError("redis unreachable (reconnect backoff)")
            self._connecting = loop.create_task(self._open())
        return await asyncio.shield(self._connecting)

    async def _open(self) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                if self._path is not None:
                    _, connection = await loop.create_unix_connection(lambda: Connection(self.timeout), self._path)
                else:
                    _, connection = await loop.create_connection(
                        lambda: Connection(self.timeout), self._host, self._port, ssl=self._ssl
                    )
                try:
                    for step in self._handshake:
                        await self._call(connection, step)
                except BaseException:
                    connection.close()
                    raise
        except BaseException:
            self._retry_at = loop.time() + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)
            raise
        finally:
            self._connecting = None
        self._backoff = MIN_BACKOFF
        self.connection = connection
        return connection

    @staticmethod
    async def _call(connection: Connection, data: bytes) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        connection.send(data, Call([future], split=False))
        return await future

    async def execute(self, data: bytes) -> Any:
        """One encoded command, one reply."""
        return await self._call(await self.connect(), data)

    async def ping(self) -> bool:
        reply: bytes = await self.execute(PING)
        return reply == b"PONG"

    def send_script(self, script: Script, count: int, body: bytes, futures: list[asyncio.Future[Any]]) -> None:
        """EVALSHA whose reply (an array) is split over `futures` in order; never blocks, never raises."""
        call = Call(futures, split=True, script=script, count=count, body=body)
        connection = self.connection
        if connection is not None and not connection.closed:
            connection.send(script.evalsha(count, body), call)
        else:
            task = asyncio.get_running_loop().create_task(self._send_when_connected(script, call))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_when_connected(self, script: Script, call: Call) -> None:
        try:
            connection = await self.connect()
        except Exception as exc:  # noqa: BLE001 - handed to the waiting requests
            call.fail(exc)
            return
        connection.send(script.evalsha(call.count, call.body), call)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
