"""File sources: a synchronous record iterator run batch by batch in a worker thread.

Positions are record numbers (1-based); a resumed read skips records up to the checkpoint. Reading never
holds more than one batch; a record that cannot be read becomes a SourceRow with `error` (rejected under
the error budget), while input that cannot be parsed any further raises SourceError.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import AsyncGenerator, Generator
from contextlib import closing
from itertools import islice
from pathlib import Path
from typing import Any

from ..errors import SourceError
from ..metadata import Column, TableInfo
from ..model import FileSource as FileSpec
from .base import Batch, Source, SourceRow


class FileSource(Source):
    dialect = "file"
    strict_columns = True  # every record has the header's columns (csv, xlsx); json and xml records may not

    def __init__(self, path: Path, spec: FileSpec) -> None:
        self.path = path
        self.spec = spec
        self.table = str(path)
        self._key = list(spec.key or ())

    @abstractmethod
    def records(self) -> Generator[SourceRow, None, None]:
        """All records in file order, numbered from 1."""

    @abstractmethod
    def header(self) -> list[str]:
        """Column names, read from the start of the file."""

    def _check(self) -> None:
        if not self.path.is_file():
            raise SourceError(f"input file {self.path} does not exist")

    async def describe(self) -> TableInfo:
        self._check()
        names = await asyncio.to_thread(self.header)
        return TableInfo(
            str(self.path),
            tuple(Column(n, "text") for n in names),
            tuple(self._key),
            dialect="file" if self.strict_columns else "loose",
        )

    @property
    def order(self) -> list[str]:
        return []

    async def count(self, since: Any = None) -> int:
        def n() -> int:
            return sum(1 for _ in self.records())

        return await asyncio.to_thread(n)

    async def batches(self, size: int, after: Any = None, since: Any = None) -> AsyncGenerator[Batch, None]:
        self._check()
        skip = int(after or 0)
        it = self.records()

        def take() -> Batch:
            return [r for r in islice(it, size)]

        def skip_done() -> None:
            for r in it:
                if r.position >= skip:
                    return

        try:
            if skip:
                await asyncio.to_thread(skip_done)
            while batch := await asyncio.to_thread(take):
                yield batch
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                await asyncio.to_thread(close)


class LooseFileSource(FileSource):
    """Records that may each carry different keys (JSON, XML): the columns are those of the first record."""

    strict_columns = False

    def header(self) -> list[str]:
        with closing(self.records()) as records:
            for r in records:
                if r.data is not None:
                    return list(r.data)
        return []
