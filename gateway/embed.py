"""SPLP policies in front of any ASGI app (a Starlette app, say), without the gateway around them.

    from starlette.middleware import Middleware
    app = Starlette(routes=routes, middleware=[Middleware(PolicyHost, policies=[{"throttle": {...}}])])

The host does once what the gateway does per API at snapshot build: the policy configs are validated by the same
loader (a bad one raises ConfigError naming the key path) and the chain is folded by PRIORITY. Per request it does
what the gateway's entry does: one RequestContext at scope["gateway"]. The wrapped app stands where the proxy
stands, so headers a policy queues for the response (throttling's RateLimit-*) are added to the app's response
head. Keys, caches and counters live in the host's own WorkerResources, closed at lifespan shutdown.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import ValidationError

from gateway.chain import PolicyBuildError, build_chain
from gateway.config.errors import ConfigError, ConfigProblem
from gateway.config.load import describe_validation_error, resolve_policies
from gateway.config.model import ApiConfig, ApiDefinition, GatewayConfig
from gateway.context import RequestContext
from gateway.router import ResourceMatcher
from gateway.snapshot import ApiRuntime
from gateway.types import ASGIApp, Message, PolicyDeps, Receive, Scope, Send, WorkerResources

__all__ = ["PolicyHost"]

_SOURCE = "embedded"


class PolicyHost:
    def __init__(
        self,
        app: ASGIApp,
        *,
        policies: list[dict[str, Any]],
        gateway: dict[str, Any] | None = None,
        context: str = "/app",
        version: str = "v1",
        tenant: str = "local",
    ) -> None:
        try:
            gateway_config = GatewayConfig.model_validate(gateway or {})
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, _SOURCE, GatewayConfig, "gateway")) from None
        try:
            api_config = ApiConfig.model_validate(
                {
                    "name": context.strip("/") or "app",
                    "context": context,
                    "version": version,
                    "tenant": tenant,
                    # Never dialled: the wrapped app stands where the proxy would.
                    "backend": {"endpoints": ["http://in-process.invalid"]},
                    "policies": policies,
                }
            )
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, _SOURCE, ApiConfig)) from None
        problems: list[ConfigProblem] = []
        specs = resolve_policies(api_config.policies, _SOURCE, "policies", problems)
        if problems:
            raise ConfigError(problems)
        definition = ApiDefinition(config=api_config, policies=specs, source=_SOURCE)
        self.resources = WorkerResources()
        self._terminal = app
        deps = PolicyDeps(api=definition, gateway=gateway_config, services=self.resources)
        try:
            self._chain = chain = build_chain(self._app, specs, deps)
        except PolicyBuildError as exc:
            raise ConfigError([ConfigProblem(_SOURCE, f"policies.{exc.policy}", str(exc))]) from None
        # The context's `api`: what policies read from it (prefix, definition) without a router behind it.
        self._api = ApiRuntime(definition, api_config.prefix, ResourceMatcher(api_config.resources), chain)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                return await self._terminal(scope, receive, self._closing_send(send))
            return await self._terminal(scope, receive, send)
        request_id = b""
        host = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value[:128]
            elif name == b"host":
                host = value
        client = scope.get("client")
        query: bytes = scope.get("query_string", b"")
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        ctx = RequestContext(
            request_id or os.urandom(16).hex().encode(),
            self._api,
            None,
            None,
            raw + b"?" + query if query else raw,
            client[0] if client else "",
            host,
        )
        scope["gateway"] = ctx
        await self._chain(scope, receive, send)

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx: RequestContext = scope["gateway"]

        async def send_with_queued(message: Message) -> None:
            if message["type"] == "http.response.start" and ctx.response_headers:
                message["headers"] = [*message.get("headers", ()), *ctx.response_headers]
            await send(message)

        await self._terminal(scope, receive, send_with_queued)

    def _closing_send(self, send: Send) -> Send:
        async def closing_send(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.resources.aclose()
            await send(message)

        return closing_send
