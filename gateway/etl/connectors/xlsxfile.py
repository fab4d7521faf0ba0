"""Excel .xlsx through openpyxl in read-only mode (rows streamed from the sheet XML, values not formulas)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from ..errors import SourceError
from .base import SourceRow
from .filebase import FileSource


class XlsxSource(FileSource):
    def _sheet(self) -> Any:
        try:
            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except (InvalidFileException, KeyError, OSError, ValueError) as exc:
            raise SourceError(f"{self.path}: not a readable .xlsx workbook: {exc}") from None
        if self.spec.sheet is None:
            return book, book.worksheets[0]
        if self.spec.sheet not in book.sheetnames:
            book.close()
            raise SourceError(f"{self.path}: no sheet {self.spec.sheet!r}; sheets: {', '.join(book.sheetnames)}")
        return book, book[self.spec.sheet]

    def header(self) -> list[str]:
        if not self.spec.header:
            return list(self.spec.columns or ())
        book, sheet = self._sheet()
        try:
            first = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
            return [str(v).strip() for v in first if v is not None]
        finally:
            book.close()

    def records(self) -> Generator[SourceRow, None, None]:
        names = self.header()
        width = len(names)
        book, sheet = self._sheet()
        try:
            n = 0
            start = 2 if self.spec.header else 1
            for excel_row, values in enumerate(sheet.iter_rows(min_row=start, values_only=True), start=start):
                if all(v is None for v in values):
                    continue
                n += 1
                label = f"row {excel_row}"
                extra = [v for v in values[width:] if v is not None]
                if extra:
                    yield SourceRow(n, label, None, f"ragged row: values beyond the {width} named columns")
                    continue
                cells: list[Any] = list(values[:width]) + [None] * (width - len(values))
                yield SourceRow(n, label, dict(zip(names, cells, strict=True)))
        finally:
            book.close()
