"""IDMap details: a key twice in one batch updates instead of inserting; one map per job and table."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest

from gateway.etl.engine import execute
from gateway.etl.errors import JobConfigError
from gateway.etl.load import load_job
from gateway.etl.state import RunStore

from .conftest import write_job


def _job(**extra: object) -> dict:
    return {
        "name": "kk",
        "connections": {"out": {"kind": "sqlite", "path": "out.db"}},
        "steps": [
            {
                "name": "kk",
                "source": {"file": "in.csv", "format": "csv", "key": ["no_kk"]},
                "target": {"connection": "out", "table": "keluarga"},
                "idmap": "id",
            }
        ],
        **extra,
    }


async def test_duplicate_source_key_in_one_batch_updates_the_first(tmp_path: Path, store: RunStore) -> None:
    async with aiosqlite.connect(tmp_path / "out.db") as db:
        await db.execute("CREATE TABLE keluarga (id INTEGER PRIMARY KEY, no_kk TEXT NOT NULL, kepala TEXT)")
        await db.commit()
    (tmp_path / "in.csv").write_text("no_kk,kepala\n3201,Ani\n3202,Budi\n,Tanpa KK\n3201,Ani Lestari\n")
    path = write_job(tmp_path, _job(error_budget=1))
    record = await store.create_run("kk", str(path), {})
    assert await execute(load_job(path), tmp_path, record.id, store) == "succeeded"
    async with aiosqlite.connect(tmp_path / "out.db") as db:
        async with db.execute("SELECT id, no_kk, kepala FROM keluarga ORDER BY id") as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [(1, "3201", "Ani Lestari"), (2, "3202", "Budi")]
        async with db.execute("SELECT src_key, tgt_key FROM splp_etl_idmap ORDER BY tgt_key") as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [("3201", 1), ("3202", 2)]
        async with db.execute("SELECT row_label, column_name, reason FROM splp_etl_rejected") as cur:
            assert [tuple(r) for r in await cur.fetchall()] == [
                ("line 4", "no_kk", "the source key is empty; an IDMap row needs one")
            ]


def test_two_idmap_steps_on_one_table_are_refused(tmp_path: Path) -> None:
    job = _job()
    second = {**job["steps"][0], "name": "kk2"}
    path = write_job(tmp_path, {**job, "steps": [job["steps"][0], second]})
    with pytest.raises(JobConfigError) as info:
        load_job(path)
    assert str(info.value).endswith(
        "(top level): steps kk and kk2 both keep an IDMap for table keluarga; the IDMap is kept per job and table, "
        "so give each source its own job"
    )
