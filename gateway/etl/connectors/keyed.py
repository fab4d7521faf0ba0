"""Database tables read in key order by keyset pagination: what the PostgreSQL, MySQL and SQLite sources share.

The dialects differ only in quoting, argument placeholders and how they fetch; the SQL shape (filter,
watermark, "after the last committed position", key order) and the key rules are written once here.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

from ..errors import ConnectorError
from ..metadata import TableInfo
from .base import Source


class KeyedTableSource(Source):
    fallback_key: tuple[str, ...] = ()  # used when the table has no primary key (SQLite: rowid)

    def __init__(self, table: str, key: Sequence[str] | None, where: str | None, watermark: str | None) -> None:
        self.table = table
        self._key = list(key or ())
        self._where = where
        self._watermark = watermark

    @abstractmethod
    def quote(self, name: str) -> str: ...

    @abstractmethod
    def mark(self, index: int) -> str:
        """The placeholder of the index-th argument (1-based)."""

    @abstractmethod
    async def _describe(self) -> TableInfo | None: ...

    def select_extra(self) -> str:
        """Extra columns a full-row SELECT needs (SQLite names its rowid)."""
        return ""

    async def describe(self) -> TableInfo:
        info = await self._describe()
        if info is None:
            raise ConnectorError(f"source table {self.table} does not exist")
        if not self._key:
            self._key = list(info.primary_key) or list(self.fallback_key)
        return info

    @property
    def order(self) -> list[str]:
        return ([self._watermark] if self._watermark else []) + self._key

    def _select(self, what: str, after: Any, since: Any, ordered: bool = True) -> tuple[str, list[Any]]:
        where: list[str] = []
        args: list[Any] = []
        if self._where:
            where.append(f"({self._where})")
        if since is not None and self._watermark:
            args.append(since)
            where.append(f"{self.quote(self._watermark)} >= {self.mark(len(args))}")
        if after is not None:
            order = self.order
            if len(order) == 1:  # a plain comparison, which every engine serves from the key index
                args.append(after[0])
                where.append(f"{self.quote(order[0])} > {self.mark(len(args))}")
            else:
                start = len(args)
                args.extend(after)
                marks = ", ".join(self.mark(start + i + 1) for i in range(len(after)))
                where.append(f"({', '.join(self.quote(c) for c in order)}) > ({marks})")
        sql = f"SELECT {what}{self.select_extra() if what == '*' else ''} FROM {self.quote(self.table)}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if ordered:
            sql += " ORDER BY " + ", ".join(self.quote(c) for c in self.order)
        return sql, args
