"""CSV files: the stdlib reader over a text stream; broken encoding and ragged rows reject single records.

The file is decoded with errors="surrogateescape", so an undecodable byte becomes a marker in one field and
that record is rejected with the byte, the line and the column, instead of failing the whole read.
"""

from __future__ import annotations

import csv
from collections.abc import Generator
from typing import TextIO

from ..errors import SourceError
from .base import SourceRow
from .filebase import FileSource


def _bad_byte(value: str) -> int | None:
    for ch in value:
        if "\udc80" <= ch <= "\udcff":
            return ord(ch) - 0xDC00
    return None


class CsvSource(FileSource):
    def _open(self) -> TextIO:
        return self.path.open(newline="", encoding=self.spec.encoding, errors="surrogateescape")

    def header(self) -> list[str]:
        if not self.spec.header:
            return list(self.spec.columns or ())
        with self._open() as fh:
            row = next(csv.reader(fh, delimiter=self.spec.delimiter), None)
        if row is None:
            raise SourceError(f"{self.path}: empty file, expected a header row")
        return [c.strip().lstrip("\ufeff") for c in row]

    def records(self) -> Generator[SourceRow, None, None]:
        names = self.header()
        width = len(names)
        with self._open() as fh:
            reader = csv.reader(fh, delimiter=self.spec.delimiter, strict=True)
            n = 0
            try:
                if self.spec.header:
                    next(reader, None)
                for row in reader:
                    line = reader.line_num
                    if not row:
                        continue
                    n += 1
                    label = f"line {line}"
                    if len(row) != width:
                        yield SourceRow(n, label, None, f"ragged row: {len(row)} fields, the header has {width}")
                        continue
                    bad = next(
                        ((name, b) for name, v in zip(names, row, strict=True) if (b := _bad_byte(v)) is not None), None
                    )
                    if bad:
                        yield SourceRow(n, label, None, f"invalid {self.spec.encoding} byte 0x{bad[1]:02x}", bad[0])
                        continue
                    yield SourceRow(n, label, dict(zip(names, row, strict=True)))
            except csv.Error as exc:
                raise SourceError(
                    f"{self.path}: line {reader.line_num}: malformed CSV: {exc}", row=reader.line_num
                ) from None
