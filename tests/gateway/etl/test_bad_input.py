"""Bad input: every message names the job, the step, the row and the column, and nothing is dropped silently."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import asyncpg
import pytest

from gateway.etl.engine import execute
from gateway.etl.load import load_job
from gateway.etl.state import RunStore

from .conftest import write_job


async def _target(path: Path) -> None:
    async with aiosqlite.connect(path) as db:
        await db.execute("CREATE TABLE people (id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, age INTEGER)")
        await db.commit()


def _job(source: dict, budget: int = 10, **step: object) -> dict:
    return {
        "name": "people",
        "error_budget": budget,
        "connections": {"out": {"kind": "sqlite", "path": "out.db"}},
        "steps": [{"name": "load", "source": source, "target": {"connection": "out", "table": "people"}, **step}],
    }


async def _run(tmp_path: Path, store: RunStore, job: dict):  # type: ignore[no-untyped-def]
    await _target(tmp_path / "out.db")
    path = write_job(tmp_path, job)
    record = await store.create_run(job["name"], str(path), {})
    await execute(load_job(path), tmp_path, record.id, store)
    return await store.get_run(record.id)


async def _rejected(tmp_path: Path) -> list[tuple]:
    async with (
        aiosqlite.connect(tmp_path / "out.db") as db,
        db.execute("SELECT step, row_label, column_name, reason FROM splp_etl_rejected ORDER BY id") as cur,
    ):
        return [tuple(r) for r in await cur.fetchall()]


async def test_csv_broken_encoding_and_ragged_rows_are_rejected_with_line_and_column(
    tmp_path: Path, store: RunStore
) -> None:
    (tmp_path / "in.csv").write_bytes(
        b"id,name,age\n1,Ani,30\n2,Bud\xe9,41\n3,Citra\n4,Dewi,x\n5,Eka,22,extra\n6,Fajar,50\n"
    )
    record = await _run(tmp_path, store, _job({"file": "in.csv", "format": "csv"}))
    assert record.state == "succeeded", record.error
    assert record.steps["load"] | {"seconds": 0} == {
        "read": 6,
        "written": 2,
        "skipped": 0,
        "rejected": 4,
        "seconds": 0,
        "state": "succeeded",
    }
    assert await _rejected(tmp_path) == [
        ("load", "line 3", "name", "invalid utf-8 byte 0xe9"),
        ("load", "line 4", None, "ragged row: 2 fields, the header has 3"),
        ("load", "line 5", "age", "cannot convert 'x' to integer: invalid literal for int() with base 10: 'x'"),
        ("load", "line 6", None, "ragged row: 4 fields, the header has 3"),
    ]


async def test_csv_errors_beyond_the_budget_fail_the_run(tmp_path: Path, store: RunStore) -> None:
    (tmp_path / "in.csv").write_bytes(b"id,name,age\n1,Ani,30\n2,Bud\xe9,41\n")
    record = await _run(tmp_path, store, _job({"file": "in.csv", "format": "csv"}, budget=0))
    assert record.state == "failed"
    assert record.error == (
        "job people: error budget exceeded: 1 rows rejected, budget 0; first in this batch: "
        "step load, line 3, column name: invalid utf-8 byte 0xe9"
    )
    assert await _rejected(tmp_path) == []  # the failing batch rolled back whole


async def test_xml_not_well_formed_fails_with_line_and_column(tmp_path: Path, store: RunStore) -> None:
    (tmp_path / "in.xml").write_text(
        "<people>\n<p><id>1</id><name>Ani</name></p>\n<p><id>2</id><name>Budi</nama></p>\n</people>\n"
    )
    record = await _run(tmp_path, store, _job({"file": "in.xml", "format": "xml", "record": "p"}))
    assert record.state == "failed"
    assert record.error == (
        f"{tmp_path / 'in.xml'}: line 3, column 31: XML is not well-formed: Opening and ending "
        "tag mismatch: name line 3 and nama"
    )


async def test_json_malformed_fails_with_line(tmp_path: Path, store: RunStore) -> None:
    (tmp_path / "in.json").write_text('[\n {"id": 1, "name": "Ani"},\n {"id": 2, "name": "Budi"\n]')
    record = await _run(tmp_path, store, _job({"file": "in.json", "format": "json"}))
    assert record.state == "failed"
    assert record.error == f"{tmp_path / 'in.json'}: line 3: malformed JSON: Expecting ',' delimiter"


async def test_jsonl_bad_line_and_non_object_are_rejected(tmp_path: Path, store: RunStore) -> None:
    (tmp_path / "in.jsonl").write_text('{"id": 1, "name": "Ani"}\n{"id": 2,\n[3]\n{"id": 4}\n')
    record = await _run(tmp_path, store, _job({"file": "in.jsonl", "format": "jsonl"}))
    assert record.state == "succeeded", record.error
    assert await _rejected(tmp_path) == [
        ("load", "line 2", None, "invalid JSON: Expecting property name enclosed in double quotes at column 10"),
        ("load", "line 3", None, "expected a JSON object, found list"),
        ("load", "line 4", "name", "NULL in NOT NULL column of type text"),
    ]


@pytest.mark.parametrize(
    "step,message",
    [
        (
            {"columns": {"name": "nama"}},
            "job people, step load: columns.name: source column 'nama' does not exist in {csv} "
            "(columns: age, id, name)",
        ),
        (
            {"columns": {"nickname": "name"}},
            "job people, step load: columns.nickname: target people has no column 'nickname' (columns: id, name, age)",
        ),
        (
            {"columns": {"age": {"const": "tua"}}},
            "job people, step load: columns.age: constant 'tua' does not fit: cannot convert 'tua' to integer: invalid "
            "literal for int() with base 10: 'tua'",
        ),
        (
            {"columns": {"age": {"expr": "umur + 1"}}},
            "job people, step load: columns.age: expression 'umur + 1': unknown column 'umur'",
        ),
        (
            {"columns": {"age": {"expr": "__import__('os')"}}},
            "job people, step load: columns.age: expression \"__import__('os')\": unknown function '__import__'; "
            "allowed: abs, coalesce, concat, date, datetime, decimal, float, int, len, lower, max, min, nullif, "
            "replace, round, str, strip, substr, title, upper",
        ),
        (
            {"exclude": ["name"]},
            "job people, step load: target people: column 'name' is NOT NULL, has no default and nothing maps to it",
        ),
        (
            {"transform": "tests.gateway.etl.nowhere:fn"},
            "job people, step load: transform 'tests.gateway.etl.nowhere:fn' cannot be loaded: No module named "
            "'tests.gateway.etl.nowhere'",
        ),
    ],
)
async def test_plan_errors_name_step_and_column(tmp_path: Path, store: RunStore, step: dict, message: str) -> None:
    (tmp_path / "in.csv").write_text("id,name,age\n1,Ani,30\n")
    record = await _run(tmp_path, store, _job({"file": "in.csv", "format": "csv"}, **step))
    assert record.state == "failed"
    assert record.error == message.format(csv=tmp_path / "in.csv")


async def test_missing_tables_and_wrong_types(tmp_path: Path, store: RunStore, pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    await conn.execute(
        "CREATE TABLE src (id int PRIMARY KEY, born date); CREATE TABLE dst (id int PRIMARY KEY, born integer)"
    )
    await conn.close()
    base = {"name": "types", "connections": {"db": {"kind": "postgres", "dsn": pg_dsn}}}
    cases = [
        (
            {"source": {"connection": "db", "table": "nope"}, "target": {"connection": "db", "table": "dst"}},
            "job types, step s: source table nope does not exist",
        ),
        (
            {"source": {"connection": "db", "table": "src"}, "target": {"connection": "db", "table": "nope"}},
            "job types, step s: target table nope does not exist in connection db; a table shaped like the source "
            'would be: CREATE TABLE nope ("id" integer NOT NULL, "born" date, PRIMARY KEY ("id"))',
        ),
        (
            {"source": {"connection": "db", "table": "src"}, "target": {"connection": "db", "table": "dst"}},
            "job types, step s: columns.born: source src.born is date, which cannot become integer",
        ),
    ]
    for step, message in cases:
        path = write_job(tmp_path, {**base, "steps": [{"name": "s", **step}]})
        record = await store.create_run("types", str(path), {})
        assert await execute(load_job(path), tmp_path, record.id, store) == "failed"
        assert (await store.get_run(record.id)).error == message
