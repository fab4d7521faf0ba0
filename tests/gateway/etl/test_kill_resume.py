"""A real `python -m gateway.etl run` killed with SIGKILL several times, then resumed: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import asyncpg

from gateway.etl.state import open_runs

from . import lapor
from .conftest import write_job

ROOT = Path(__file__).resolve().parents[3]


async def _spawn(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ETL_TEST_PAUSE": "0.04"}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.etl",
        "--catalog",
        f"sqlite:///{tmp_path}/catalog.db",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=str(tmp_path),
    )


async def _checkpoints(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        if await conn.fetchval("SELECT to_regclass('splp_etl_checkpoint')") is None:
            return 0
        # rows read by committed batches, over every step: grows with each commit
        return int(
            await conn.fetchval(
                "SELECT coalesce(sum((state::json->>'read')::int + (state::json->>'written')::int), 0) "
                "FROM splp_etl_checkpoint"
            )
        )
    finally:
        await conn.close()


async def test_sigkill_then_resume_loses_and_duplicates_nothing(tmp_path: Path, maria: dict, pg_dsn: str) -> None:
    rows = lapor.seed_rows()
    await lapor.create_source(maria, rows)
    await lapor.create_target(pg_dsn)
    job = lapor.job(maria, pg_dsn, batch_size=25)
    for step in job["steps"]:
        step["transform_batch"] = "tests.gateway.etl.slow:pause"
    path = write_job(tmp_path, job)

    proc = await _spawn(tmp_path, "run", str(path))
    run_id = None
    assert proc.stderr is not None
    line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
    m = re.match(r"run (\S+)", line)
    assert m, line
    run_id = m.group(1)
    killed_mid_step = 0
    for attempt in range(4):
        # let it commit a few batches past the last kill, then kill it without warning
        before = await _checkpoints(pg_dsn)
        for _ in range(200):
            await asyncio.sleep(0.05)
            if await _checkpoints(pg_dsn) > before or proc.returncode is not None:
                break
        await asyncio.sleep(0.1 + 0.13 * attempt)
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            killed_mid_step += 1
        await proc.wait()
        assert proc.returncode == -signal.SIGKILL, (await proc.stderr.read()).decode()
        proc = await _spawn(tmp_path, "run", "--resume", run_id)
        assert proc.stderr is not None
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, (out.decode(), err.decode())
    assert killed_mid_step == 4

    store = await open_runs(f"sqlite:///{tmp_path}/catalog.db")
    try:
        record = await store.get_run(run_id)
        logs = [e["message"] for e in await store.logs(run_id)]
    finally:
        await store.close()
    assert record.state == "succeeded" and record.attempts == 5
    assert sum("resuming after position" in m for m in logs) >= 3, logs
    for table, n in lapor.SIZES.items():
        assert record.steps[table]["read"] == n and record.steps[table]["written"] == n, record.steps
        assert record.reconcile[table]["match"] is True, record.reconcile[table]

    conn = await asyncpg.connect(pg_dsn)
    try:
        for table, n in lapor.SIZES.items():
            mapped = await conn.fetchval("SELECT count(*) FROM splp_etl_idmap WHERE tbl = $1", table)
            assert mapped == n
            existing = {"categories": 3, "reporters": 1}.get(table, 0)
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == n + existing
        titles = [r[0] for r in await conn.fetch("SELECT title FROM complaints ORDER BY title")]
        assert titles == sorted(r[3] for r in rows["complaints"])
        orphans = await conn.fetchval(
            "SELECT count(*) FROM comments c LEFT JOIN comments p ON p.id = c.parent_id "
            "WHERE c.parent_id IS NOT NULL AND p.id IS NULL"
        )
        assert orphans == 0
        assert await conn.fetchval("SELECT count(*) FROM comments WHERE parent_id IS NOT NULL") == sum(
            1 for r in rows["comments"] if r[3]
        )
    finally:
        await conn.close()
