"""ASGI aliases and the policy contract.

A policy is a pure ASGI middleware declared like a Kong plugin:
    NAME: str          the key used in config files
    PRIORITY: int      higher runs first (outermost); ties broken by NAME
    Config: type       a frozen pydantic model, extra="forbid", every field described
    __init__(app, config, *, deps)   parses and precomputes everything
    __call__(scope, receive, send)   request work only; either awaits `app` or answers itself
A policy that answers itself sends one complete response and never calls receive() or `app`.
After the response has started a policy may not send another one: it raises instead.
Priority bands: 3000 observe, 2500 transport, 2000 authenticate, 1500 authorize, 1000 throttle,
900 payload. The proxy is the terminal app, not a policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

if TYPE_CHECKING:
    from gateway.config.model import ApiDefinition, GatewayConfig

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class WorkerResources:
    """Per-worker resources that outlive snapshots (counter stores, key caches, token caches).

    A policy asks for one by key with a factory; the first snapshot creates it, later snapshots get the same
    object, so a reload keeps counters and caches. Anything with an async `aclose()` is closed at shutdown.
    """

    def __init__(self) -> None:
        self._items: dict[str, Any] = {}

    def get(self, key: str, factory: Callable[[], Any]) -> Any:
        item = self._items.get(key)
        if item is None:
            item = self._items[key] = factory()
        return item

    def values(self) -> list[Any]:
        return list(self._items.values())

    async def readiness(self) -> dict[str, str]:
        """ "ok" or the problem, for every resource that can tell (an async `check_ready() -> str | None`)."""
        report: dict[str, str] = {}
        for key, item in list(self._items.items()):
            check = getattr(item, "check_ready", None)
            if check is None:
                continue
            try:
                problem = await asyncio.wait_for(check(), 1.0)
            except Exception as exc:  # noqa: BLE001 - a readiness probe reports, it never raises
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            report[key] = problem or "ok"
        return report

    async def aclose(self) -> None:
        items, self._items = self._items, {}
        for item in items.values():
            close = getattr(item, "aclose", None)
            if close is not None:
                await close()


@dataclass(frozen=True, slots=True)
class PolicyDeps:
    """Shared resources a policy may need, handed to its constructor at snapshot build time."""

    api: ApiDefinition
    gateway: GatewayConfig
    services: WorkerResources


class Policy(Protocol):
    # Plain class attributes, not ClassVar: mypy matches a class against type[Policy] only then. A policy
    # writes `Config: type[BaseModel] = ThrottleConfig` (a bare `Config = X` is a type alias, not a member).
    NAME: str
    PRIORITY: int
    Config: type[BaseModel]

    def __init__(self, app: ASGIApp, config: Any, *, deps: PolicyDeps) -> None: ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...
