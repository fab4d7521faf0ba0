"""Chains: the policies of one API folded around its proxy, once per snapshot.

Order is decided here, not in config: highest PRIORITY outermost, ties broken by NAME (as Kong). The
config only selects which policies run and with what settings.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.config.model import PolicySpec
from gateway.types import ASGIApp, PolicyDeps


def ordered(specs: Sequence[PolicySpec]) -> list[PolicySpec]:
    """Outermost first."""
    return sorted(specs, key=lambda spec: (-spec.policy_class.PRIORITY, spec.name))  # type: ignore[attr-defined]


def build_chain(terminal: ASGIApp, specs: Sequence[PolicySpec], deps: PolicyDeps) -> ASGIApp:
    app = terminal
    for spec in reversed(ordered(specs)):
        app = spec.policy_class(app, spec.config, deps=deps)
    return app


def describe(specs: Sequence[PolicySpec]) -> list[str]:
    """One line per policy, outermost first, for `splp chain`."""
    return [f"{spec.policy_class.PRIORITY:>5}  {spec.name}" for spec in ordered(specs)] + ["    -  proxy"]  # type: ignore[attr-defined]
