"""How a global entry and an API's own entry of the same name combine: the API's wins, whole.

One rule for every place that layers gateway-wide settings under an API's: the policies of gateway.yaml under
a file or catalog API's policies, and the throttle policy's gateway-wide rules under an API's own throttle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar


class Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=Named)


def overlay(inherited: Iterable[N], own: Sequence[N]) -> tuple[N, ...]:
    """`own`, then each inherited entry whose name `own` does not use."""
    names = {entry.name for entry in own}
    return tuple(own) + tuple(entry for entry in inherited if entry.name not in names)
