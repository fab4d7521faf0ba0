"""Lost connections: the run's PostgreSQL sessions killed by the server mid-run are retried from the last
checkpoint (nothing lost, nothing twice); a database that stays away fails the run with an error naming the
job, the step, the connections and the original cause."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from gateway.etl.engine import execute
from gateway.etl.load import load_job
from gateway.etl.state import RunStore

from .conftest import pg_sql, slow_warga_job

N = 400


async def _written(store: RunStore, run_id: str, rows: int) -> None:
    async with asyncio.timeout(30):
        for _ in range(100_000):
            if (await store.get_run(run_id)).steps.get("warga", {}).get("written", 0) >= rows:
                return
            await asyncio.sleep(0.02)


async def _kill_sessions(dsn: str, label: str) -> int:
    rows = await pg_sql(
        dsn, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", label
    )
    return int(rows[0][0])


async def test_a_killed_session_is_retried_from_the_checkpoint(
    tmp_path: Path, store: RunStore, maria: dict[str, Any], pg_dsn: str
) -> None:
    path = await slow_warga_job(tmp_path, maria, pg_dsn, N, batch_size=10)
    record = await store.create_run("warga", str(path), {})
    run = asyncio.create_task(execute(load_job(path), tmp_path, record.id, store, retry_backoff=0.05))
    killed = 0
    async with asyncio.timeout(60):
        while killed < 2 and not run.done():
            written = (await store.get_run(record.id)).steps.get("warga", {}).get("written", 0)
            if written >= 100 * (killed + 1):
                killed += await _kill_sessions(pg_dsn, f"splp-etl:warga:{record.id}") > 0
            await asyncio.sleep(0.02)
    assert await run == "succeeded", (await store.get_run(record.id)).error
    assert killed == 2
    log = [e["message"] for e in await store.logs(record.id)]
    lost = [m for m in log if "connection lost" in m]
    # The second kill may land in the load or in the reconciliation that follows it: both retry.
    assert len(lost) == 2 and re.match(
        r"job warga, step warga \((load|reconcile); source connection src, target", lost[0]
    )
    assert (await pg_sql(pg_dsn, "SELECT count(*), count(DISTINCT id) FROM penduduk")) == [(N, N)]
    assert (await store.get_run(record.id)).steps["warga"]["written"] == N


async def test_a_database_that_stays_away_fails_the_run_naming_everything(
    tmp_path: Path, store: RunStore, maria: dict[str, Any], pg_dsn: str
) -> None:
    path = await slow_warga_job(tmp_path, maria, pg_dsn, N, batch_size=10)
    record = await store.create_run("warga", str(path), {})
    run = asyncio.create_task(execute(load_job(path), tmp_path, record.id, store, retries=2, retry_backoff=0.05))
    await _written(store, record.id, 50)
    name = pg_dsn.rsplit("/", 1)[1]
    await pg_sql(pg_dsn.rsplit("/", 1)[0] + "/postgres", f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    try:
        await _kill_sessions(pg_dsn.rsplit("/", 1)[0] + "/postgres", f"splp-etl:warga:{record.id}")
        assert await run == "failed"
    finally:
        await pg_sql(pg_dsn.rsplit("/", 1)[0] + "/postgres", f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    error = (await store.get_run(record.id)).error or ""
    # Wherever the loss lands (the load, or the reconciliation after it), the error names everything.
    where = r"job warga, step warga \((load|reconcile); source connection src, target connection dst\)"
    assert re.match(where, error), error
    assert (
        "connection lost, 2 retries from the last checkpoint failed: CannotConnect: cannot connect to PostgreSQL"
        in error
    )
