"""Chains: the policies of one API folded around its proxy, once per snapshot.

Order is decided here, not in config: highest PRIORITY outermost, ties broken by NAME (as Kong). The
config only selects which policies run and with what settings. Besides the ASGI app, building a chain
collects the optional phases of its policies (gateway/types.py): `on_response` hooks for the proxy and
`on_log` hooks for the analytics flush. With `timed`, a thin marker before each policy records when the
call entered it, so each event tells the time spent in each policy's request phase.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.config.model import PolicySpec
from gateway.types import ASGIApp, LogHook, PolicyDeps, Receive, ResponseHook, Scope, Send


def ordered(specs: Sequence[PolicySpec]) -> list[PolicySpec]:
    """Outermost first."""
    return sorted(specs, key=lambda spec: (-spec.policy_class.PRIORITY, spec.name))


class PolicyBuildError(ValueError):
    """A policy refused its config when the chain was built (e.g. a name that must match another section)."""

    def __init__(self, policy: str, message: str) -> None:
        super().__init__(message)
        self.policy = policy


class EntryMark:
    """Records the moment the call enters the next policy (ctx.marks), for per-policy request times."""

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = scope["gateway"]
        marks = ctx.marks
        if marks is None:
            ctx.marks = marks = []
        marks.append(time.perf_counter())
        await self.app(scope, receive, send)


@dataclass(frozen=True, slots=True)
class Chain:
    app: ASGIApp
    names: tuple[str, ...]  # outermost first
    response_hooks: tuple[ResponseHook, ...]  # innermost first: the order a response travels outward
    log_hooks: tuple[tuple[str, LogHook], ...]
    timed: bool


def build(terminal: ASGIApp, specs: Sequence[PolicySpec], deps: PolicyDeps, *, timed: bool = False) -> Chain:
    app = terminal
    response_hooks: list[ResponseHook] = []
    log_hooks: list[tuple[str, LogHook]] = []
    chain = ordered(specs)
    for spec in reversed(chain):
        try:
            policy = spec.policy_class(app, spec.config, deps=deps)
        except ValueError as exc:  # cross-checks a schema alone cannot make
            raise PolicyBuildError(spec.name, str(exc)) from None
        on_response = getattr(policy, "on_response", None)
        if on_response is not None:
            response_hooks.append(on_response)
        on_log = getattr(policy, "on_log", None)
        if on_log is not None:
            log_hooks.append((spec.name, on_log))
        app = EntryMark(policy) if timed else policy
    return Chain(app, tuple(s.name for s in chain), tuple(response_hooks), tuple(reversed(log_hooks)), timed)


def build_chain(terminal: ASGIApp, specs: Sequence[PolicySpec], deps: PolicyDeps) -> ASGIApp:
    return build(terminal, specs, deps).app


def describe(specs: Sequence[PolicySpec], sources: dict[str, str] | None = None) -> list[str]:
    """One line per policy, outermost first, for `splp chain`, with where each class came from."""
    lines = []
    for spec in ordered(specs):
        where = (sources or {}).get(spec.name, "")
        lines.append(f"{spec.policy_class.PRIORITY:>5}  {spec.name}" + (f"  [{where}]" if where else ""))
    return [*lines, "    -  proxy"]
