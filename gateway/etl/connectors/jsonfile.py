"""JSON files: a top-level array read element by element (never the whole file), or JSON lines."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from typing import Any

from ..errors import SourceError
from .base import SourceRow
from .filebase import LooseFileSource

_CHUNK = 1 << 16
_WS = " \t\r\n"


def _row(n: int, label: str, value: Any) -> SourceRow:
    if isinstance(value, dict):
        return SourceRow(n, label, value)
    return SourceRow(n, label, None, f"expected a JSON object, found {type(value).__name__}")


class JsonLinesSource(LooseFileSource):
    def records(self) -> Generator[SourceRow, None, None]:
        with self.path.open(encoding=self.spec.encoding, errors="strict") as fh:
            n = 0
            line_no = 0
            try:
                for line in fh:
                    line_no += 1
                    if not line.strip():
                        continue
                    n += 1
                    try:
                        value = json.loads(line.rstrip("\r\n"))
                    except json.JSONDecodeError as exc:
                        yield SourceRow(n, f"line {line_no}", None, f"invalid JSON: {exc.msg} at column {exc.colno}")
                        continue
                    yield _row(n, f"line {line_no}", value)
            except UnicodeDecodeError as exc:
                raise SourceError(
                    f"{self.path}: line {line_no + 1}: not valid {self.spec.encoding}: {exc.reason}", row=line_no + 1
                ) from None


class JsonArraySource(LooseFileSource):
    def records(self) -> Generator[SourceRow, None, None]:
        with self.path.open(encoding=self.spec.encoding, errors="strict") as fh:
            yield from _ArrayReader(self, fh).rows()


class _ArrayReader:
    """Walks `[ value, value, ... ]` with raw_decode over a sliding buffer; tracks lines for messages."""

    def __init__(self, source: JsonArraySource, fh: Any) -> None:
        self.source = source
        self.fh = fh
        self.decoder = json.JSONDecoder()
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.line = 1
        self.counted = 0

    def line_at(self) -> int:
        self.line += self.buf.count("\n", self.counted, self.pos)
        self.counted = self.pos
        return self.line

    def fill(self) -> bool:
        try:
            chunk = self.fh.read(_CHUNK)
        except UnicodeDecodeError as exc:
            raise self.fail(f"not valid {self.source.spec.encoding}: {exc.reason}") from None
        self.line_at()
        self.buf, self.pos, self.counted = self.buf[self.pos :] + chunk, 0, 0
        self.eof = not chunk
        return bool(chunk)

    def skip_ws(self) -> None:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buf) or not self.fill():
                return

    def fail(self, what: str) -> SourceError:
        line = self.line_at()
        return SourceError(f"{self.source.path}: line {line}: malformed JSON: {what}", row=line)

    def value(self) -> Any:
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
                if end < len(self.buf) or self.eof:
                    self.pos = end
                    return value
            except json.JSONDecodeError as exc:
                if self.eof:
                    raise self.fail(exc.msg) from None
            self.fill()

    def rows(self) -> Iterator[SourceRow]:
        self.skip_ws()
        if self.pos >= len(self.buf) or self.buf[self.pos] != "[":
            raise self.fail("expected a top-level array '['")
        self.pos += 1
        self.skip_ws()
        if self.pos < len(self.buf) and self.buf[self.pos] == "]":
            return
        n = 0
        while True:
            self.skip_ws()
            line = self.line_at()
            value = self.value()
            n += 1
            yield _row(n, f"element {n} (line {line})", value)
            self.skip_ws()
            if self.pos >= len(self.buf):
                raise self.fail("unterminated array, expected ',' or ']'")
            if self.buf[self.pos] == "]":
                return
            if self.buf[self.pos] != ",":
                raise self.fail(f"expected ',' or ']' after element {n}, found {self.buf[self.pos]!r}")
            self.pos += 1
