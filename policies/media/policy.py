"""Media transfers (payload band, PRIORITY 950: before request transforms): type, size, integrity, pace.

Checked on the head alone, before any body byte is read (so a refused upload gets no 100 Continue):
the declared Content-Type against `allowed_types`, a declared Content-Length against `max_body_size`,
the Content-Digest syntax. Then the first body bytes are read (at most one receive() beyond 16 bytes)
and checked against the declared type's signature, before the backend is contacted at all.

While the body streams, it is counted (413 past the limit) and hashed when a Content-Digest came; the
message carrying its last bytes is handed on only after the digest matched, so on a mismatch the
upstream request is reset short of complete and the client answered 400. Digest and sizes go to the
call's analytics event (request_digest, request_bytes, response_bytes).

The proxy reads `transfer_limits()` when the snapshot is built: this API's size cap and an idle timeout
instead of the total one.
"""

from __future__ import annotations

from collections import deque

from pydantic import BaseModel

from gateway import errors
from gateway.context import RequestContext
from gateway.streaming import TransferLimits
from gateway.types import ASGIApp, Message, PolicyDeps, Receive, Scope, Send
from gateway.upstream.errors import ClientBodyRejected
from policies.media import digest, signatures
from policies.media.bandwidth import Bandwidth, TokenBucket
from policies.media.schema import MediaConfig

_CLOSE = [(b"connection", b"close")]
_RANGE_HEADERS = frozenset({b"range", b"if-range"})


class MediaBody:
    """The request body as the media policy hands it on: first bytes sniffed, counted, hashed."""

    __slots__ = ("_receive", "_pending", "_limit", "_declared", "_verifier", "_bandwidth", "received")

    def __init__(
        self,
        receive: Receive,
        limit: int,
        declared: int | None,
        verifier: digest.Verifier | None,
        bandwidth: Bandwidth | None,
    ) -> None:
        self._receive = receive
        self._pending: deque[Message] = deque()
        self._limit = limit
        self._declared = declared
        self._verifier = verifier
        self._bandwidth = bandwidth
        self.received = 0

    async def first_bytes(self, want: int) -> bytes:
        """Reads messages until `want` bytes or the end; they are replayed by receive()."""
        got = b""
        while len(got) < want:
            message = await self._receive()
            self._pending.append(message)
            if message["type"] != "http.request":
                break
            got += message.get("body", b"")
            if not message.get("more_body", False):
                break
        return got[:want]

    async def receive(self) -> Message:
        message = self._pending.popleft() if self._pending else await self._receive()
        if message["type"] != "http.request":
            return message
        chunk: bytes = message.get("body", b"")
        if chunk:
            received = self.received + len(chunk)
            self.received = received
            if received > self._limit:
                raise ClientBodyRejected(
                    errors.PAYLOAD_TOO_LARGE, f"request body exceeds {self._limit} bytes; upstream request reset"
                )
            if self._verifier is not None:
                self._verifier.update(chunk)
            if self._bandwidth is not None:
                await self._bandwidth.take(len(chunk))
        last = not message.get("more_body", False) or self.received == self._declared
        if last and self._verifier is not None and not self._verifier.matches():
            raise ClientBodyRejected(
                errors.DIGEST_MISMATCH, "the body does not match its Content-Digest; upstream request reset"
            )
        return message


class MediaPolicy:
    NAME = "media"
    PRIORITY = 950
    Config: type[BaseModel] = MediaConfig

    @staticmethod
    def transfer_limits(config: MediaConfig) -> TransferLimits:
        return TransferLimits(max_body_size=config.max_body_size, idle_timeout=config.idle_timeout)

    def __init__(self, app: ASGIApp, config: MediaConfig, *, deps: PolicyDeps) -> None:
        self.app = app
        exact = frozenset(t for t in config.allowed_types if not t.endswith("/*"))
        families = tuple(t[:-1] for t in config.allowed_types if t.endswith("/*"))  # "image/"
        self._any_type = not config.allowed_types
        self._exact = exact
        self._families = families
        self._deny_executables = config.deny_executables
        self._limit = config.max_body_size
        self._digest = config.digest
        self._max_ranges = config.max_ranges
        self._bandwidth = config.bandwidth

    def _type_allowed(self, media_type: str) -> bool:
        return self._any_type or media_type in self._exact or media_type.startswith(self._families)

    def _new_bandwidth(self) -> Bandwidth | None:
        config = self._bandwidth
        return TokenBucket(config.rate, config.burst) if config is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        ctx: RequestContext | None = scope.get("gateway")
        request_id = ctx.request_id if ctx is not None else None
        content_type = b""
        digest_field = b""
        declared: int | None = None
        chunked = False
        ranges = 0
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                declared = int(value)
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"content-digest":
                digest_field = value if not digest_field else digest_field + b"," + value
            elif name == b"range":
                ranges += value.count(b",") + 1
        if ranges > self._max_ranges:
            scope["headers"] = [(n, v) for n, v in scope["headers"] if n not in _RANGE_HEADERS]

        body: MediaBody | None = None
        if chunked or declared:
            refusal, verifier = self._check_head(content_type, declared, digest_field)
            if refusal is not None:
                return await errors.send_problem(send, refusal[0], refusal[1], request_id, headers=_CLOSE)
            body = MediaBody(receive, self._limit, None if chunked else declared, verifier, self._new_bandwidth())
            media_type = content_type.partition(b";")[0].strip().lower().decode("latin-1")
            mismatch = signatures.check(
                media_type, await body.first_bytes(signatures.SNIFF_BYTES), self._deny_executables
            )
            if mismatch is not None:
                return await errors.send_problem(send, errors.MEDIA_TYPE_MISMATCH, mismatch, request_id, headers=_CLOSE)
            receive = body.receive

        started = False
        sent = 0
        out_bandwidth = self._new_bandwidth()

        async def counting_send(message: Message) -> None:
            nonlocal started, sent
            if message["type"] == "http.response.start":
                started = True
            else:
                size = len(message.get("body", b""))
                sent += size
                if out_bandwidth is not None and size:
                    await out_bandwidth.take(size)
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except ClientBodyRejected as exc:
            if started:
                raise  # the response is under way: the server ends the connection
            await errors.send_problem(send, exc.problem, exc.detail, request_id, headers=_CLOSE)
        finally:
            if ctx is not None:
                if body is not None:
                    ctx.note("request_bytes", body.received)
                    if body._verifier is not None:
                        ctx.note("request_digest", body._verifier.field())
                ctx.note("response_bytes", sent)

    def _check_head(
        self, content_type: bytes, declared: int | None, digest_field: bytes
    ) -> tuple[tuple[errors.Problem, str] | None, digest.Verifier | None]:
        media_type = content_type.partition(b";")[0].strip().lower().decode("latin-1")
        if not media_type:
            return (errors.UNSUPPORTED_MEDIA_TYPE, "an upload needs a Content-Type"), None
        if not self._type_allowed(media_type):
            return (errors.UNSUPPORTED_MEDIA_TYPE, f"{media_type} is not accepted by this API"), None
        if declared is not None and declared > self._limit:
            return (errors.PAYLOAD_TOO_LARGE, f"request body of {declared} bytes exceeds {self._limit} bytes"), None
        if self._digest == "off":
            return None, None
        if not digest_field:
            if self._digest == "require":
                return (errors.INVALID_DIGEST, "this API requires a Content-Digest (sha-256 or sha-512)"), None
            return None, None
        try:
            algorithm, expected = digest.parse(digest_field)
        except digest.DigestError as exc:
            return (errors.INVALID_DIGEST, f"Content-Digest: {exc}"), None
        return None, digest.Verifier(algorithm, expected)
