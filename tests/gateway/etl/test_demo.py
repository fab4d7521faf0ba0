"""The shipped demo job runs as shipped (what `make etl-demo` does), twice: the second run updates."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from gateway.etl.engine import execute
from gateway.etl.load import load_job
from gateway.etl.state import RunStore

CONF = Path(__file__).resolve().parents[3] / "conf" / "etl"


async def test_the_demo_job_runs_as_shipped(tmp_path: Path, store: RunStore) -> None:
    etl = tmp_path / "conf" / "etl"
    shutil.copytree(CONF / "demo", etl / "demo")
    shutil.copy(CONF / "demo-warga.yaml", etl)
    (tmp_path / "var" / "etl").mkdir(parents=True)
    with sqlite3.connect(tmp_path / "var" / "etl" / "demo.db") as db:
        db.executescript((etl / "demo" / "schema.sql").read_text())
    job = load_job(etl / "demo-warga.yaml")
    for _run in (1, 2):
        record = await store.create_run(job.name, str(etl / "demo-warga.yaml"), {})
        assert await execute(job, etl, record.id, store) == "succeeded", (await store.get_run(record.id)).error
        done = await store.get_run(record.id)
        assert done.steps["warga"]["written"] == 500 and all(r["match"] for r in done.reconcile.values())
    with sqlite3.connect(tmp_path / "var" / "etl" / "demo.db") as db:
        assert db.execute("SELECT count(*), count(DISTINCT kelurahan_id), min(sumber) FROM penduduk").fetchone() == (
            500,
            5,
            "demo-csv",
        )
        assert db.execute("SELECT nama FROM penduduk ORDER BY id LIMIT 1").fetchone()[0].istitle()
