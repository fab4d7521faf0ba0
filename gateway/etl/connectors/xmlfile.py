"""XML files streamed with lxml iterparse: one record per `record` element, cleared once read.

A record's fields are its attributes and the text of its child elements (namespaces dropped). A document
that is not well-formed stops the read with the line and column lxml reports; records before it are loaded.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

from lxml import etree

from ..errors import SourceError
from .base import SourceRow
from .filebase import LooseFileSource

_CHUNK_BYTES = 64 * 1024


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else str(tag)


class XmlSource(LooseFileSource):
    def records(self) -> Generator[SourceRow, None, None]:
        record = self.spec.record
        with self.path.open("rb") as fh:
            yield from self._parse(fh, record)

    def _parse(self, fh: Any, record: str | None) -> Iterator[SourceRow]:
        # A pull parser fed in chunks, events read after each feed: the records before a syntax error are
        # delivered whatever the lxml version. (iterparse from lxml 6.2 on raises before yielding the events
        # of the chunk that holds the error, so what a broken file loaded depended on the installed lxml.)
        parser = etree.XMLPullParser(events=("end",), huge_tree=False, resolve_entities=False, no_network=True)
        n = 0
        error: etree.XMLSyntaxError | None = None
        done = False
        while not done and error is None:
            chunk = fh.read(_CHUNK_BYTES)
            done = not chunk
            try:
                if done:
                    parser.close()
                else:
                    parser.feed(chunk)
            except etree.XMLSyntaxError as exc:
                error = exc
            for _, elem in parser.read_events():
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
        if error is not None:
            line, col = error.position if error.position else (error.lineno, 0)
            msg = str(error.msg).removesuffix(f", line {line}, column {col}")
            raise SourceError(f"{self.path}: line {line}, column {col}: XML is not well-formed: {msg}", row=line)
