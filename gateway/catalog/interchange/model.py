"""What an import yields, and how its problems are reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.catalog.errors import Invalid


@dataclass(frozen=True, slots=True)
class Imported:
    """An API read from a definition: the catalog fields it suggests, and the source kept for export."""

    format: Literal["openapi", "swagger", "wsdl"]
    spec_version: str  # 3.0.3, 3.1.0, 2.0, 1.1
    name: str
    version: str  # suggestion (info.version); the caller may override it
    slug: str  # for the suggested context /<tenant>/<slug>
    description: str
    tags: tuple[str, ...]
    backend_url: str | None  # first absolute http(s) server / soap:address, when there is one
    resources: tuple[str, ...]  # shorthand "GET,POST /path/{param}"
    operations: tuple[dict[str, Any], ...]  # one per path x method / SOAP operation, as found
    source: str = field(repr=False)


def pointer(*parts: str | int) -> str:
    """A JSON pointer (RFC 6901) from its unescaped parts."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


class Problems:
    """Collects problems with their place in the definition; `raise_any` raises them together as Invalid
    (field `definition`; each problem's loc is ["definition", <JSON pointer or XML place>])."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, where: str, message: str) -> None:
        self.items.append({"loc": ["definition", where or "/"], "msg": message, "type": "definition"})

    def raise_any(self) -> None:
        if self.items:
            first = self.items[0]
            raise Invalid("definition", f"{first['loc'][1]}: {first['msg']}", self.items)


def refuse(where: str, message: str) -> Invalid:
    problems = Problems()
    problems.add(where, message)
    return Invalid("definition", f"{where}: {message}", problems.items)
