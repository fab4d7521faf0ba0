"""The binary COPY path: PostgreSQL -> PostgreSQL append with identical columns streams COPY data straight
through, batch by batch with checkpoints; a batch the target refuses falls back to the row path."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from gateway.etl.engine import execute
from gateway.etl.load import load_job
from gateway.etl.state import RunStore, open_runs

from .conftest import pg_sql as _sql
from .conftest import write_job

ROOT = Path(__file__).resolve().parents[3]
TABLES = """
CREATE TABLE src_items (id integer PRIMARY KEY, name text NOT NULL, amount numeric(12,2), at timestamptz);
CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, amount numeric(12,2) CHECK (amount < 900),
                    at timestamptz);
"""


async def _run(tmp_path: Path, store: RunStore, dsn: str, **job: Any) -> tuple[Any, list[str]]:
    spec = {
        "name": "copy",
        "connections": {"db": {"kind": "postgres", "dsn": dsn}},
        "batch_size": 4,
        "steps": [
            {
                "name": "items",
                "source": {"connection": "db", "table": "src_items"},
                "target": {"connection": "db", "table": "items"},
                "mode": "append",
            }
        ],
        **job,
    }
    path = write_job(tmp_path, spec)
    record = await store.create_run(spec["name"], str(path), {})
    await execute(load_job(path), tmp_path, record.id, store)
    return await store.get_run(record.id), [line["message"] for line in await store.logs(record.id)]


async def test_identical_columns_stream_by_binary_copy(tmp_path: Path, store: RunStore, pg_dsn: str) -> None:
    await _sql(pg_dsn, TABLES)
    await _sql(
        pg_dsn,
        "INSERT INTO src_items SELECT i, 'nama ' || i, i * 1.25, "
        "'2024-01-01'::timestamptz + i * interval '1 day' FROM generate_series(1, 10) i",
    )
    await _sql(pg_dsn, "UPDATE src_items SET amount = NULL, at = NULL WHERE id = 3")
    run, log = await _run(tmp_path, store, pg_dsn)
    assert run.state == "succeeded", run.error
    assert any("binary COPY" in line for line in log)
    assert run.steps["items"]["read"] == 10 and run.steps["items"]["written"] == 10
    copied = await _sql(pg_dsn, "SELECT * FROM items ORDER BY id")
    assert copied == await _sql(pg_dsn, "SELECT * FROM src_items ORDER BY id")


async def test_refused_batch_falls_back_to_rows_and_rejects(tmp_path: Path, store: RunStore, pg_dsn: str) -> None:
    await _sql(pg_dsn, TABLES)
    await _sql(pg_dsn, "INSERT INTO src_items SELECT i, 'nama ' || i, i, now() FROM generate_series(1, 10) i")
    await _sql(pg_dsn, "UPDATE src_items SET amount = 950 WHERE id = 6")  # breaks the target's CHECK
    run, log = await _run(tmp_path, store, pg_dsn, error_budget=5)
    assert run.state == "succeeded", run.error
    assert any("refused a COPY batch" in line for line in log)
    # batch 1 (ids 1-4) went by COPY; from batch 2 on the row path loads all but the refused row, exactly once
    assert await _sql(pg_dsn, "SELECT array_agg(id ORDER BY id) FROM items") == [([1, 2, 3, 4, 5, 7, 8, 9, 10],)]
    assert run.steps["items"]["rejected"] == 1 and run.steps["items"]["written"] == 9


FAMILY = """
CREATE TABLE src_units (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE src_staff (id integer PRIMARY KEY, unit_id integer REFERENCES src_units(id), name text NOT NULL);
CREATE TABLE units (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE staff (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, unit_id integer REFERENCES units(id),
                    name text NOT NULL);
SELECT setval('units_id_seq', 500);
"""


def _family_job(dsn: str) -> dict[str, Any]:
    def step(name: str, source: str) -> dict[str, Any]:
        return {
            "name": name,
            "source": {"connection": "db", "table": source},
            "target": {"connection": "db", "table": name},
            "mode": "append",
            "idmap": "id",
        }

    return {
        "name": "family",
        "connections": {"db": {"kind": "postgres", "dsn": dsn}},
        "batch_size": 4,
        "steps": [step("units", "src_units"), step("staff", "src_staff")],
    }


async def test_idmap_and_fk_lookup_by_copy_match_the_source(tmp_path: Path, store: RunStore, pg_dsn: str) -> None:
    await _sql(pg_dsn, FAMILY)
    await _sql(pg_dsn, "INSERT INTO src_units SELECT i * 10, 'unit ' || i FROM generate_series(1, 5) i")
    await _sql(
        pg_dsn,
        "INSERT INTO src_staff SELECT i, CASE WHEN i % 4 = 0 THEN NULL ELSE (i % 5 + 1) * 10 END, "
        "'staff ' || i FROM generate_series(1, 11) i",
    )
    spec = _family_job(pg_dsn)
    path = write_job(tmp_path, spec)
    record = await store.create_run("family", str(path), {})
    await execute(load_job(path), tmp_path, record.id, store)
    run = await store.get_run(record.id)
    log = [line["message"] for line in await store.logs(record.id)]
    assert run.state == "succeeded", run.error
    assert sum("binary COPY" in line for line in log) == 2
    # new keys come from the targets' sequences; every staff row points at the unit its source row pointed at
    source = await _sql(
        pg_dsn, "SELECT s.name, u.name FROM src_staff s LEFT JOIN src_units u ON u.id = s.unit_id ORDER BY s.name"
    )
    target = await _sql(
        pg_dsn, "SELECT s.name, u.name FROM staff s LEFT JOIN units u ON u.id = s.unit_id ORDER BY s.name"
    )
    assert target == source
    assert await _sql(pg_dsn, "SELECT min(id) FROM units") == [(501,)]
    pairs = await _sql(pg_dsn, "SELECT count(*) FROM splp_etl_idmap WHERE job = 'family'")
    assert pairs == [(16,)]
    # a second run finds the IDMaps filled: the row path updates the mapped rows, nothing is inserted twice
    again = await store.create_run("family", str(path), {})
    await execute(load_job(path), tmp_path, again.id, store)
    assert (await store.get_run(again.id)).state == "succeeded"
    assert await _sql(pg_dsn, "SELECT count(*) FROM staff") == [(11,)]
    assert await _sql(pg_dsn, "SELECT count(*) FROM units") == [(5,)]


async def test_missing_fk_in_idmap_falls_back_and_rejects(tmp_path: Path, store: RunStore, pg_dsn: str) -> None:
    await _sql(pg_dsn, FAMILY.replace(" REFERENCES src_units(id)", ""))
    await _sql(pg_dsn, "INSERT INTO src_units SELECT i, 'unit ' || i FROM generate_series(1, 3) i")
    await _sql(
        pg_dsn,
        "INSERT INTO src_staff SELECT i, CASE WHEN i = 6 THEN 99 ELSE i % 3 + 1 END, 'staff ' || i "
        "FROM generate_series(1, 8) i",
    )
    spec = {**_family_job(pg_dsn), "error_budget": 3}
    path = write_job(tmp_path, spec)
    record = await store.create_run("family", str(path), {})
    await execute(load_job(path), tmp_path, record.id, store)
    run = await store.get_run(record.id)
    log = [line["message"] for line in await store.logs(record.id)]
    assert run.state == "succeeded", run.error
    assert any("keys missing from its IDMap" in line for line in log)
    assert run.steps["staff"]["rejected"] == 1 and run.steps["staff"]["written"] == 7
    assert await _sql(pg_dsn, "SELECT count(*) FROM staff") == [(7,)]


async def test_sigkill_mid_copy_then_resume_exact(tmp_path: Path, pg_dsn: str) -> None:
    rows = 200_000
    await _sql(pg_dsn, TABLES.replace(" CHECK (amount < 900)", ""))
    await _sql(
        pg_dsn, "INSERT INTO src_items SELECT i, 'nama ' || i, i / 100.0, now() FROM generate_series(1, $1) i", rows
    )
    spec = {
        "name": "bulk",
        "connections": {"db": {"kind": "postgres", "dsn": pg_dsn}},
        "batch_size": 2000,
        "steps": [
            {
                "name": "items",
                "source": {"connection": "db", "table": "src_items"},
                "target": {"connection": "db", "table": "items"},
                "mode": "append",
            }
        ],
    }
    path = write_job(tmp_path, spec)

    async def spawn(*args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway.etl",
            "--catalog",
            f"sqlite:///{tmp_path}/catalog.db",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(tmp_path),
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    proc = await spawn("run", str(path))
    assert proc.stderr is not None
    run_id = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode().split()[1]
    for _ in range(400):  # kill it once some batches are committed, before it is done
        await asyncio.sleep(0.01)
        done = await _sql(pg_dsn, "SELECT count(*) FROM items")
        if done[0][0] > 0:
            break
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    killed_at = (await _sql(pg_dsn, "SELECT count(*) FROM items"))[0][0]
    resumed = await spawn("run", "--resume", run_id)
    _, err = await asyncio.wait_for(resumed.communicate(), 120)
    assert resumed.returncode == 0, err.decode()
    store = await open_runs(f"sqlite:///{tmp_path}/catalog.db")
    try:
        record = await store.get_run(run_id)
    finally:
        await store.close()
    assert 0 < killed_at < rows, "the kill must land mid-run for this test to mean anything"
    assert record.state == "succeeded" and record.steps["items"]["rejected"] == 0
    assert await _sql(pg_dsn, "SELECT count(*), count(DISTINCT id), sum(id) FROM items") == [
        (rows, rows, rows * (rows + 1) // 2)
    ]
