"""Foreign-key cycles end to end: nullable ones load NULL and are filled after the IDMap is complete."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from gateway.etl.engine import execute
from gateway.etl.load import load_job
from gateway.etl.state import RunStore

from .conftest import write_job

SOURCE = """
CREATE TABLE src_dept (id int PRIMARY KEY, name text NOT NULL, head_id int);
CREATE TABLE src_emp (id int PRIMARY KEY, name text NOT NULL, dept_id int NOT NULL);
INSERT INTO src_dept SELECT i, 'Bidang ' || i, i * 10 FROM generate_series(1, 5) i;
INSERT INTO src_emp SELECT i, 'Pegawai ' || i, (i % 5) + 1 FROM generate_series(1, 50) i;
"""


def _target(head_nullable: bool, serial: bool) -> str:
    key = "serial PRIMARY KEY" if serial else "integer PRIMARY KEY"
    return f"""
CREATE TABLE dept (id {key}, name text NOT NULL, head_id integer {"" if head_nullable else "NOT NULL"});
CREATE TABLE emp (id {key}, name text NOT NULL, dept_id integer NOT NULL REFERENCES dept(id));
ALTER TABLE dept ADD FOREIGN KEY (head_id) REFERENCES emp(id) DEFERRABLE;
""" + ("INSERT INTO dept (id, name) VALUES (1000, 'lama');" if serial else "")


def _job(dsn: str, idmap: bool) -> dict:
    steps = []
    for name, src in (("emp", "src_emp"), ("dept", "src_dept")):
        step: dict = {
            "name": name,
            "source": {"connection": "db", "table": src},
            "target": {"connection": "db", "table": name},
            "batch_size": 7,
        }
        if idmap:
            step["idmap"] = "id"
        steps.append(step)
    return {"name": "org", "connections": {"db": {"kind": "postgres", "dsn": dsn}}, "steps": steps}


async def _run(tmp_path: Path, store: RunStore, job: dict):  # type: ignore[no-untyped-def]
    path = write_job(tmp_path, job)
    record = await store.create_run(job["name"], str(path), {})
    await execute(load_job(path), tmp_path, record.id, store)
    return await store.get_run(record.id), [e["message"] for e in await store.logs(record.id)]


@pytest.mark.parametrize("idmap", [False, True], ids=["keys-kept", "idmap"])
async def test_nullable_cycle_is_filled_after_the_load(
    tmp_path: Path, store: RunStore, pg_dsn: str, idmap: bool
) -> None:
    conn = await asyncpg.connect(pg_dsn)
    await conn.execute(SOURCE + _target(head_nullable=True, serial=idmap))
    if idmap:
        await conn.execute("SELECT setval('dept_id_seq', 1000); SELECT setval('emp_id_seq', 500)")
    record, logs = await _run(tmp_path, store, _job(pg_dsn, idmap))
    assert record.state == "succeeded", (record.error, logs)
    assert "order: dept -> emp; deferred: dept.head_id" in logs
    assert "step dept: filled head_id on 5 rows" in logs
    assert all(r["match"] for r in record.reconcile.values()), record.reconcile
    rows = await conn.fetch("SELECT d.name, e.name AS head FROM dept d JOIN emp e ON e.id = d.head_id ORDER BY d.id")
    await conn.close()
    assert [(r["name"], r["head"]) for r in rows] == [(f"Bidang {i}", f"Pegawai {i * 10}") for i in range(1, 6)]


async def test_not_null_cycle_is_refused(tmp_path: Path, store: RunStore, pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    await conn.execute(SOURCE + _target(head_nullable=False, serial=False))
    await conn.close()
    record, _ = await _run(tmp_path, store, _job(pg_dsn, idmap=False))
    assert record.state == "failed"
    assert record.error == (
        "job org: steps emp -> dept -> emp form a foreign-key cycle through NOT NULL columns "
        "(emp.dept_id, dept.head_id); make one of them nullable so it can be filled after the "
        "load, or split the step"
    )
