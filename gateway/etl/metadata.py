"""What a table looks like, whichever database it lives in; and a proposed mapping between two tables."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # the database's own spelling, lower case: "tinyint(1)", "character varying(80)", "text"
    nullable: bool = True
    autoincrement: bool = False
    has_default: bool = False


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    dialect: str = "file"
    _by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name.lower(): c for c in self.columns})

    def column(self, name: str) -> Column | None:
        return self._by_name.get(name.lower())

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def same_table(a: str, b: str) -> bool:
    """Compares table names, ignoring a default schema prefix and case."""

    def norm(n: str) -> str:
        n = n.lower().replace('"', "").replace("`", "")
        return n.split(".", 1)[1] if n.startswith("public.") else n

    return norm(a) == norm(b)
