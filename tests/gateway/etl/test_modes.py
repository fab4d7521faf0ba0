"""Write modes on PostgreSQL: append, upsert, replace (swap at the end), incremental by watermark; rejects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg

from gateway.etl.engine import execute
from gateway.etl.load import load_job
from gateway.etl.state import RunStore

from .conftest import pg_sql as _sql
from .conftest import write_job

SRC = """
CREATE TABLE src_items (id integer PRIMARY KEY, name text NOT NULL, qty integer, changed_at timestamptz NOT NULL);
CREATE TABLE items (id integer PRIMARY KEY, name varchar(10) NOT NULL, qty integer CHECK (qty >= 0),
                    changed_at timestamptz NOT NULL, loaded_by text);
"""


def _job(dsn: str, **step: Any) -> dict[str, Any]:
    return {
        "name": "items",
        "connections": {"db": {"kind": "postgres", "dsn": dsn}},
        "batch_size": 3,
        "steps": [
            {
                "name": "items",
                "source": {"connection": "db", "table": "src_items"},
                "target": {"connection": "db", "table": "items"},
                "columns": {"loaded_by": {"const": "${run_id}"}},
                **step,
            }
        ],
    }


async def _run(tmp_path: Path, store: RunStore, job: dict[str, Any]) -> Any:
    path = write_job(tmp_path, job)
    record = await store.create_run(job["name"], str(path), {})
    await execute(load_job(path), tmp_path, record.id, store)
    return await store.get_run(record.id)


async def _seed(dsn: str, n: int = 7) -> None:
    await _sql(dsn, SRC)
    await _sql(
        dsn,
        "INSERT INTO src_items SELECT i, 'item ' || i, i, '2024-01-01'::timestamptz + i * interval '1 "
        "hour' FROM generate_series(1, $1) i",
        n,
    )


async def test_append_then_upsert(tmp_path: Path, store: RunStore, pg_dsn: str) -> None:
    await _seed(pg_dsn)
    first = await _run(tmp_path, store, _job(pg_dsn, mode="append"))
    assert first.state == "succeeded", first.error
    assert await _sql(pg_dsn, "SELECT count(*), sum(qty) FROM items") == [(7, 28)]
    await _sql(pg_dsn, "UPDATE src_items SET qty = qty * 10 WHERE id <= 2")
    second = await _run(tmp_path, store, _job(pg_dsn, mode="upsert", key=["id"]))
    assert second.state == "succeeded", second.error
    assert await _sql(pg_dsn, "SELECT count(*), sum(qty) FROM items") == [(7, 55)]
    assert await _sql(pg_dsn, "SELECT DISTINCT loaded_by FROM items") == [(second.id,)]
    assert second.reconcile["items"]["match"] is True


async def test_append_twice_is_refused_by_the_key_and_budget(tmp_path: Path, store: RunStore, pg_dsn: str) -> None:
    await _seed(pg_dsn, 2)
    assert (await _run(tmp_path, store, _job(pg_dsn))).state == "succeeded"
    again = await _run(tmp_path, store, _job(pg_dsn))
    assert again.state == "failed"
    assert again.error == (
        "job items: error budget exceeded: 2 rows rejected, budget 0; first in this batch: "
        "step items, key 1: UniqueViolationError: duplicate key value violates unique constraint "
        '"items_pkey" (Key (id)=(1) already exists.)'
    )


async def test_rejected_rows_within_budget(tmp_path: Path, store: RunStore, pg_dsn: str) -> None:
    await _seed(pg_dsn)
    await _sql(pg_dsn, "UPDATE src_items SET name = 'much too long' WHERE id = 2")
    await _sql(pg_dsn, "UPDATE src_items SET qty = -1 WHERE id = 5")
    job = _job(pg_dsn, mode="upsert", key=["id"])
    job["error_budget"] = 2
    record = await _run(tmp_path, store, job)
    assert record.state == "succeeded", record.error
    assert record.steps["items"] == {**record.steps["items"], "read": 7, "written": 5, "rejected": 2}
    rejected = await _sql(pg_dsn, "SELECT row_label, column_name, reason FROM splp_etl_rejected ORDER BY id")
    assert rejected[0] == (
        "key 2",
        "name",
        "cannot convert 'much too long' to character varying(10): 13 characters, longer than 10",
    )
    assert rejected[1][0] == "key 5" and rejected[1][2].startswith(
        'CheckViolationError: new row for relation "items" violates check constraint "items_qty_check"'
    )
    rec = record.reconcile["items"]
    assert rec["source_rows"] == 7 and rec["unmappable"] == 1 and rec["target_rows"] == 5
    assert rec["match"] is False  # a row the database refused is a real difference, and reported as one

    job["error_budget"] = 1
    failed = await _run(tmp_path, store, job)
    assert failed.state == "failed"
    assert "error budget exceeded: 2 rows rejected, budget 1" in failed.error


async def test_replace_swaps_a_new_table_in(tmp_path: Path, store: RunStore, pg_dsn: str) -> None:
    await _seed(pg_dsn, 4)
    await _sql(pg_dsn, "INSERT INTO items VALUES (99, 'stale', 1, now(), 'old')")
    record = await _run(tmp_path, store, _job(pg_dsn, mode="replace"))
    assert record.state == "succeeded", record.error
    assert await _sql(pg_dsn, "SELECT id FROM items ORDER BY id") == [(1,), (2,), (3,), (4,)]
    assert await _sql(pg_dsn, "SELECT to_regclass('items__splp_new'), to_regclass('items__splp_old')") == [(None, None)]
    assert record.reconcile["items"]["match"] is True


async def test_incremental_by_watermark(tmp_path: Path, store: RunStore, pg_dsn: str) -> None:
    await _seed(pg_dsn, 5)
    job = _job(pg_dsn, mode="incremental", key=["id"], watermark="changed_at")
    first = await _run(tmp_path, store, job)
    assert first.state == "succeeded" and first.steps["items"]["read"] == 5
    await _sql(pg_dsn, "UPDATE src_items SET name = 'changed', changed_at = '2025-01-01' WHERE id = 2")
    await _sql(pg_dsn, "INSERT INTO src_items VALUES (6, 'new', 1, '2025-01-02')")
    second = await _run(tmp_path, store, job)
    assert second.state == "succeeded", second.error
    # only rows at or past the stored watermark (2024-01-01 05:00) are read again
    assert second.steps["items"]["read"] == 3
    assert await _sql(pg_dsn, "SELECT id, name FROM items WHERE id IN (2, 6) ORDER BY id") == [
        (2, "changed"),
        (6, "new"),
    ]
    assert await _sql(pg_dsn, "SELECT count(*) FROM items") == [(6,)]
    assert await _sql(pg_dsn, "SELECT value FROM splp_etl_watermark") == [('{"$dt":"2025-01-02T00:00:00+00:00"}',)]


async def test_one_run_of_a_job_at_a_time(tmp_path: Path, store: RunStore, pg_dsn: str) -> None:
    await _seed(pg_dsn, 2)
    holder = await asyncpg.connect(pg_dsn)
    try:  # another process running the same job holds the job's lock in the target database
        assert await holder.fetchval("SELECT pg_try_advisory_lock(hashtextextended('splp_etl:' || $1, 0))", "items")
        blocked = await _run(tmp_path, store, _job(pg_dsn))
        assert blocked.state == "failed"
        assert blocked.error == "job items is already running against connection db; one run of a job at a time"
    finally:
        await holder.close()  # a killed run's connection closes the same way, and the lock goes with it
    assert (await _run(tmp_path, store, _job(pg_dsn))).state == "succeeded"
