"""What the engine needs from a source and from a target; one implementation per database or file format.

Sources yield batches of SourceRow. A row's `position` is its resume token: the key values of a table row
(keyset pagination) or the record number in a file. The engine stores the last position of a committed batch
and hands it back as `after` on resume.

A target opens one connection per run. `session()` is one transaction: everything a batch changes (rows,
IDMap pairs, rejected rows, the checkpoint) goes through the session and commits together.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from typing import Any

from ..metadata import TableInfo

# Who the engine's database sessions say they are (PostgreSQL application_name, MariaDB program_name), so a
# DBA tells them apart: `splp-etl:<job>:<run>`, set by engine.execute for the run's task and its children.
CONNECTION_LABEL: ContextVar[str] = ContextVar("splp_etl_connection_label", default="splp-etl")


class SourceRow:
    """One record read from a source, or the reason it could not be read (`error`)."""

    __slots__ = ("position", "label", "data", "error", "column")

    def __init__(
        self,
        position: Any,
        label: str | Sequence[Any],
        data: dict[str, Any] | None,
        error: str | None = None,
        column: str | None = None,
    ) -> None:
        self.position = position
        # "line 12" / "record 3 (line 40)" for files; a table row keeps its key values and is named on demand
        self.label = label
        self.data = data
        self.error = error
        self.column = column

    @property
    def where(self) -> str:
        """How an operator finds the row in the input: "line 12", "key 7", "key 2024-01-01,7"."""
        if isinstance(self.label, str):
            return self.label
        return "key " + ",".join(str(v) for v in self.label)


Batch = list[SourceRow]


class Source(ABC):
    dialect = "file"
    zone = "UTC"

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    @abstractmethod
    async def describe(self) -> TableInfo: ...

    @abstractmethod
    def batches(self, size: int, after: Any = None, since: Any = None) -> AsyncGenerator[Batch, None]:
        """Rows after position `after`; `since` is the lowest watermark value to read (incremental)."""

    @abstractmethod
    async def count(self, since: Any = None) -> int:
        """How many rows `batches` would yield (from `since`, for incremental reads)."""


class IdScope:
    """Rows of `table` that belong to a job: those whose `key` is in the job's IDMap for `map_name`."""

    def __init__(self, job: str, map_name: str, key: str) -> None:
        self.job = job
        self.map_name = map_name
        self.key = key


class Session(ABC):
    """One open transaction on the target."""

    @abstractmethod
    async def lookup_ids(self, job: str, map_name: str, keys: Sequence[str]) -> dict[str, int]: ...

    @abstractmethod
    async def insert_new(
        self, table: str, key: str, columns: Sequence[str], records: Sequence[tuple[Any, ...]]
    ) -> list[int]:
        """Inserts rows without their key; returns the keys the target generated, in order."""

    @abstractmethod
    async def write(
        self,
        table: str,
        columns: Sequence[str],
        records: Sequence[tuple[Any, ...]],
        conflict: Sequence[str] | None = None,
    ) -> None:
        """Append (conflict None) or upsert on the `conflict` columns."""

    @abstractmethod
    async def put_ids(self, job: str, map_name: str, pairs: Sequence[tuple[str, int]]) -> None: ...

    @abstractmethod
    async def put_rejects(self, records: Sequence[tuple[Any, ...]]) -> None:
        """(run_id, job, step, row label, column, reason, data json)."""

    @abstractmethod
    async def put_checkpoint(self, run_id: str, job: str, step: str, state: str) -> None: ...

    @abstractmethod
    async def put_watermark(self, job: str, step: str, value: str) -> None: ...

    @abstractmethod
    async def update_column(self, table: str, key: str, column: str, pairs: Sequence[tuple[int, Any]]) -> None:
        """UPDATE table SET column = value WHERE key = k, for (k, value) pairs."""

    @abstractmethod
    def savepoint(self) -> AbstractAsyncContextManager[None]: ...


class Target(ABC):
    dialect = "postgres"

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def setup(self) -> None:
        """Creates the control tables (IDMap, checkpoints, watermarks, rejected rows) if missing."""

    @abstractmethod
    async def describe(self, table: str) -> TableInfo | None: ...

    @abstractmethod
    def session(self) -> AbstractAsyncContextManager[Session]: ...

    @abstractmethod
    async def get_checkpoint(self, run_id: str, step: str) -> str | None: ...

    @abstractmethod
    async def get_watermark(self, job: str, step: str) -> str | None: ...

    async def lock_job(self, job: str) -> bool:
        """Takes a lock held while this connection lives (a killed run releases it); False when another run of
        the job holds it. Two runs of one job at once could both insert rows an IDMap has not recorded yet."""
        return True

    @abstractmethod
    async def has_ids(self, job: str, map_name: str) -> bool:
        """Whether the IDMap holds any pair of this job for this table."""

    @abstractmethod
    async def prepare_replace(self, table: str, fresh: bool) -> str:
        """Creates (or, on resume, keeps) an empty copy of `table`; returns its name."""

    @abstractmethod
    async def swap(self, table: str, new: str) -> None: ...

    @abstractmethod
    def scan(
        self, table: str, columns: Sequence[str], scope: IdScope | None, size: int
    ) -> AsyncIterator[list[tuple[Any, ...]]]: ...

    @abstractmethod
    async def count(self, table: str, scope: IdScope | None) -> int: ...

    @abstractmethod
    async def rejected(self, run_id: str) -> list[dict[str, Any]]: ...
