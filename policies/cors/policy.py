"""CORS (phase: observe band, PRIORITY 2800, so preflights are answered before authentication).

Answers preflight requests itself (204, or 403 for an origin that is not allowed); adds the CORS
response headers to actual requests from allowed origins. Never buffers. No dependencies.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gateway import errors
from gateway.types import ASGIApp, Message, PolicyDeps, Receive, Scope, Send
from policies.cors.schema import CorsConfig

CORS_DENIED = errors.Problem(403, 800403, "cors-origin-denied", "Origin not allowed")


class CorsPolicy:
    NAME = "cors"
    PRIORITY = 2800
    Config: type[BaseModel] = CorsConfig

    def __init__(self, app: ASGIApp, config: CorsConfig, *, deps: PolicyDeps) -> None:
        self.app = app
        # config-derived
        self._any_origin = "*" in config.allow_origins
        self._origins = frozenset(o.encode() for o in config.allow_origins)
        self._methods = frozenset(config.allow_methods)
        self._any_header = "*" in config.allow_headers
        self._headers = frozenset(h.lower() for h in config.allow_headers)
        self._credentials = config.allow_credentials
        self._preflight_fixed = [
            (b"access-control-allow-methods", ", ".join(config.allow_methods).encode()),
            (b"access-control-max-age", str(config.max_age).encode()),
            (b"vary", b"Origin"),
        ]
        if config.allow_credentials:
            self._preflight_fixed.append((b"access-control-allow-credentials", b"true"))
        self._simple_fixed: list[tuple[bytes, bytes]] = []
        if config.expose_headers:
            self._simple_fixed.append((b"access-control-expose-headers", ", ".join(config.expose_headers).encode()))
        if config.allow_credentials:
            self._simple_fixed.append((b"access-control-allow-credentials", b"true"))
        # a wildcard answer can be shared by caches only when credentials are off
        self._wildcard_value = b"*" if self._any_origin and not config.allow_credentials else None

    def _allowed(self, origin: bytes) -> bool:
        return self._any_origin or origin in self._origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = b""
        request_method = b""
        request_headers = b""
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                request_method = value
            elif name == b"access-control-request-headers":
                request_headers = value
        if not origin:
            return await self.app(scope, receive, send)
        if scope["method"] == "OPTIONS" and request_method:
            return await self._preflight(scope, send, origin, request_method, request_headers)
        if not self._allowed(origin):
            return await self.app(scope, receive, send)  # no CORS headers: the browser blocks the read

        allow_origin = self._wildcard_value or origin
        extra = [(b"access-control-allow-origin", allow_origin), *self._simple_fixed]
        if allow_origin is origin:
            extra.append((b"vary", b"Origin"))

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope: Scope, send: Send, origin: bytes, method: bytes, headers: bytes) -> None:
        ctx: Any = scope["gateway"]
        problem = None
        if not self._allowed(origin):
            problem = f"origin {origin.decode('latin-1')!r} is not allowed"
        elif method.decode("latin-1").upper() not in self._methods:
            problem = f"method {method.decode('latin-1')!r} is not allowed"
        elif headers and not self._any_header:
            asked = {h.strip().lower().decode("latin-1") for h in headers.split(b",") if h.strip()}
            refused = asked - self._headers
            if refused:
                problem = f"headers {', '.join(sorted(refused))} are not allowed"
        if problem is not None:
            return await errors.send_problem(send, CORS_DENIED, f"CORS preflight refused: {problem}", ctx.request_id)
        response_headers = [
            (b"access-control-allow-origin", self._wildcard_value or origin),
            *self._preflight_fixed,
        ]
        if headers:
            response_headers.append((b"access-control-allow-headers", headers))
        await send({"type": "http.response.start", "status": 204, "headers": response_headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
