"""The contract between the proxy and an upstream HTTP/1.1 client.

Headers travel as ASGI does: a list of (lowercase name bytes, value bytes). The proxy has already
removed hop-by-hop headers and set `host`; the client adds only framing (`content-length` or
`transfer-encoding: chunked`) when the request has a body, and `connection: keep-alive` semantics are
its own business. Bodies stream in both directions: the request body is an async iterator the client
pulls from only after the connection is up (so a connect failure consumed nothing), the response body
is pulled by the proxy chunk by chunk, so the socket's flow control is the backpressure.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Protocol

Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. `read` is the longest silence while waiting for response bytes (headers or body);
    `total` caps connect + sending the request + receiving the response headers. A streamed body is
    bounded by `read` only, so a 1 GiB download is not cut by a deadline meant for API calls."""

    connect: float = 5.0
    read: float = 30.0
    total: float = 60.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One backend address; `base_path` (bytes, no trailing slash) is prefixed to every target."""

    url: str
    scheme: str
    host: str
    port: int
    base_path: bytes
    weight: int = 1
    ssl: ssl.SSLContext | None = None  # https: the API's backend TLS context (built once per snapshot)

    @property
    def host_header(self) -> bytes:
        default = 443 if self.scheme == "https" else 80
        return (self.host if self.port == default else f"{self.host}:{self.port}").encode("latin-1")


@dataclass(slots=True)
class UpstreamRequest:
    method: str
    endpoint: Endpoint
    target: bytes  # path + optional "?query", already joined with endpoint.base_path
    headers: Headers
    body: AsyncIterable[bytes] | None  # None: no body at all
    content_length: int | None  # known length of `body`, else the client sends it chunked
    timeouts: Timeouts


class UpstreamResponse(Protocol):
    status: int
    headers: Headers  # validated: no CR/LF/NUL, consistent framing; hop-by-hop not yet removed

    def iter_body(self) -> AsyncIterator[bytes]:
        """Yields body chunks as they arrive. Raises UpstreamBodyError if the body breaks off short of
        its framing, UpstreamTimeout(phase="read") on silence."""
        ...

    async def release(self) -> None:
        """Returns the connection to the pool when the body was read to its end, else closes it."""
        ...


class UpstreamClient(Protocol):
    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        """Connects (pooled, keep-alive), writes the request streaming its body, and returns once the
        response headers are in. Raises the errors of gateway.upstream.errors."""
        ...

    async def aclose(self) -> None: ...
