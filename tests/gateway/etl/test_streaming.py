"""File sources stream: reading a large file holds about one batch, never the whole file."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from gateway.etl.connectors.factory import _FILES
from gateway.etl.model import FileSource as FileSpec

N = 40_000


def _xml(p: Path) -> None:
    with p.open("w") as fh:
        fh.write("<data>\n")
        for i in range(N):
            fh.write(f'<row id="{i}"><name>warga nomor {i}</name><note>{"x" * 100}</note></row>\n')
        fh.write("</data>\n")


def _json(p: Path) -> None:
    with p.open("w") as fh:
        fh.write("[\n")
        fh.write(",\n".join(json.dumps({"id": i, "name": f"warga nomor {i}", "note": "x" * 100}) for i in range(N)))
        fh.write("\n]\n")


def _csv(p: Path) -> None:
    with p.open("w") as fh:
        fh.write("id,name,note\n")
        for i in range(N):
            fh.write(f"{i},warga nomor {i},{'x' * 100}\n")


@pytest.mark.parametrize("fmt,writer,extra", [("xml", _xml, {"record": "row"}), ("json", _json, {}), ("csv", _csv, {})])
async def test_reading_holds_one_batch(tmp_path: Path, fmt: str, writer, extra: dict) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"big.{fmt}"
    writer(path)
    size = path.stat().st_size
    source = _FILES[fmt](path, FileSpec(file=path.name, format=fmt, **extra))
    tracemalloc.start()
    try:
        seen = 0
        async for batch in source.batches(500):
            seen += len(batch)
            assert batch[0].data is not None and batch[0].data["name"].startswith("warga nomor")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == N
    # parsed records cost several times their bytes; holding the file would peak far above its size
    assert peak < size / 4, f"peak {peak} bytes for a {size}-byte file"
