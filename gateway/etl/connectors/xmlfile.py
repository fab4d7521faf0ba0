"""XML files streamed with lxml iterparse: one record per `record` element, cleared once read.

A record's fields are its attributes and the text of its child elements (namespaces dropped). A document
that is not well-formed stops the read with the line and column lxml reports; records before it are loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lxml import etree

from ..errors import SourceError
from .base import SourceRow
from .filebase import LooseFileSource


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else str(tag)


class XmlSource(LooseFileSource):
    def records(self) -> Iterator[SourceRow]:
        record = self.spec.record
        with self.path.open("rb") as fh:
            yield from self._parse(fh, record)

    def _parse(self, fh: Any, record: str | None) -> Iterator[SourceRow]:
        n = 0
        try:
            for _, elem in etree.iterparse(
                fh, events=("end",), huge_tree=False, resolve_entities=False, no_network=True
            ):
                if _local(elem.tag) != record:
                    continue
                n += 1
                row: dict[str, Any] = {_local(k): v for k, v in elem.attrib.items()}
                for child in elem:
                    if isinstance(child.tag, str):
                        row[_local(child.tag)] = (
                            child.text if child.text is None or len(child) == 0 else "".join(child.itertext())
                        )
                label = f"record {n} (line {elem.sourceline})"
                elem.clear(keep_tail=False)
                while elem.getprevious() is not None:
                    del elem.getparent()[0]
                yield SourceRow(n, label, row)
        except etree.XMLSyntaxError as exc:
            line, col = exc.position if exc.position else (exc.lineno, 0)
            msg = str(exc.msg).removesuffix(f", line {line}, column {col}")
            raise SourceError(
                f"{self.path}: line {line}, column {col}: XML is not well-formed: {msg}", row=line
            ) from None
