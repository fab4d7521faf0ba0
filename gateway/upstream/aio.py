"""The aiohttp upstream client: TLS backends, and the fallback for plain http.

Configured as a forwarder, not a browser: no redirects followed, no cookie jar, no decompression, no
headers of its own. Response framing is checked again here (CR/LF/NUL, Content-Length conflicts),
so both clients refuse the same bad responses.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
from yarl import URL

from gateway.upstream.base import Endpoint, Headers, UpstreamRequest
from gateway.upstream.errors import (
    ClientBodyAborted,
    UpstreamBodyError,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeout,
)

_SKIP_AUTO = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})
_FORBIDDEN_IN_VALUE = (b"\r", b"\n", b"\x00")


def check_response_headers(headers: Headers) -> None:
    """Raises UpstreamProtocolError for framing a proxy must not pass on (RFC 9112 6.3)."""
    lengths: set[bytes] = set()
    chunked = False
    for name, value in headers:
        if any(bad in value for bad in _FORBIDDEN_IN_VALUE):
            raise UpstreamProtocolError(f"backend header {name.decode('latin-1')!r} contains CR, LF or NUL")
        if name == b"content-length":
            lengths.add(value.strip())
        elif name == b"transfer-encoding":
            chunked = True
    if lengths and chunked:
        raise UpstreamProtocolError("backend sent both Content-Length and Transfer-Encoding")
    if len(lengths) > 1:
        raise UpstreamProtocolError("backend sent conflicting Content-Length headers")


def _client_abort(exc: BaseException) -> ClientBodyAborted | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ClientBodyAborted):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _translate(exc: aiohttp.ClientError, endpoint: Endpoint) -> Exception:
    where = f"{endpoint.host}:{endpoint.port}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamConnectError(f"cannot connect to {where}: {exc.os_error}")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamTimeout(f"connecting to {where} timed out", "connect")
    if isinstance(exc, aiohttp.ServerTimeoutError):  # the socket read timeout (connect's is caught above)
        return UpstreamTimeout(f"{where} sent nothing within the read timeout", "read")
    if isinstance(exc, aiohttp.ClientResponseError):
        return UpstreamProtocolError(f"backend sent an invalid response: {exc.message}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return UpstreamBodyError("backend closed the connection before answering")
    return UpstreamBodyError(f"backend connection failed: {exc}")


class AioResponse:
    __slots__ = ("status", "headers", "_response")

    def __init__(self, response: aiohttp.ClientResponse, headers: Headers) -> None:
        self.status = response.status
        self.headers = headers
        self._response = response

    async def iter_body(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            while True:
                chunk = await content.readany()
                if not chunk:
                    break
                yield chunk
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout("backend went silent while sending the body", "read") from exc
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, aiohttp.ClientResponseError) as exc:
            raise UpstreamBodyError(f"backend body broke off: {exc}") from exc

    async def release(self) -> None:
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class AioClient:
    def __init__(self, *, limit: int = 1000, limit_per_host: int = 100, keepalive_timeout: float = 30.0) -> None:
        self._connector_args = {
            "limit": limit,
            "limit_per_host": limit_per_host,
            "keepalive_timeout": keepalive_timeout,
        }
        self._session: aiohttp.ClientSession | None = None
        self._bases: dict[Endpoint, str] = {}

    def _get_session(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running loop of the worker that uses it.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ttl_dns_cache=60, **self._connector_args),  # type: ignore[arg-type]
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=_SKIP_AUTO,
                timeout=aiohttp.ClientTimeout(total=None),
                raise_for_status=False,
            )
        return self._session

    def _base(self, endpoint: Endpoint) -> str:
        base = self._bases.get(endpoint)
        if base is None:
            base = self._bases[endpoint] = f"{endpoint.scheme}://{endpoint.host}:{endpoint.port}"
        return base

    async def send(self, request: UpstreamRequest) -> AioResponse:
        session = self._get_session()
        timeouts = request.timeouts
        url = URL(self._base(request.endpoint) + request.target.decode("latin-1"), encoded=True)
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers]
        if request.body is not None and request.content_length is not None:
            headers.append(("Content-Length", str(request.content_length)))
        try:
            async with asyncio.timeout(timeouts.total):
                response = await session.request(
                    request.method,
                    url,
                    headers=headers,
                    data=request.body,
                    allow_redirects=False,
                    compress=None,
                    chunked=None,
                    timeout=aiohttp.ClientTimeout(total=None, connect=timeouts.connect, sock_read=timeouts.read),
                )
        except ClientBodyAborted:
            raise
        except aiohttp.ClientError as exc:  # before TimeoutError: aiohttp's timeouts subclass it
            aborted = _client_abort(exc)
            if aborted is not None:  # our own body iterator failed inside aiohttp's writer
                raise aborted from None
            raise _translate(exc, request.endpoint) from exc
        except TimeoutError as exc:
            raise UpstreamTimeout("backend did not answer in time", "total") from exc
        raw = [(name.lower(), value) for name, value in response.raw_headers]
        try:
            check_response_headers(raw)
        except UpstreamProtocolError:
            response.close()
            raise
        return AioResponse(response, raw)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
