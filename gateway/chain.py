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
    return sorted(specs, key=lambda spec: (-spec.policy_class.PRIORITY, spec.name))


class PolicyBuildError(ValueError):
    """A policy refused its config when the chain was built (e.g. a name that must match another section)."""

    def __init__(self, policy: str, message: str) -> None:
        super().__init__(message)
        self.policy = policy


def build_chain(terminal: ASGIApp, specs: Sequence[PolicySpec], deps: PolicyDeps) -> ASGIApp:
    app = terminal
    for spec in reversed(ordered(specs)):
        try:
            app = spec.policy_class(app, spec.config, deps=deps)
        except ValueError as exc:  # cross-checks a schema alone cannot make
            raise PolicyBuildError(spec.name, str(exc)) from None
    return app


def describe(specs: Sequence[PolicySpec]) -> list[str]:
    """One line per policy, outermost first, for `splp chain`."""
    return [f"{spec.policy_class.PRIORITY:>5}  {spec.name}" for spec in ordered(specs)] + ["    -  proxy"]
