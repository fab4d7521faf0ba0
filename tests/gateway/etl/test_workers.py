"""Real `splp etl worker` processes on a PostgreSQL catalog (procrastinate queue), a MariaDB source and a
PostgreSQL target: two workers never run one job at once, and a worker SIGKILLed mid-run is detected and its
run resumed by the other, with no row lost or written twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.etl.queue import open_queue
from gateway.etl.service import EtlService
from gateway.etl.state import open_runs

from .conftest import pg_sql, slow_warga_job, wait_run

ROOT = Path(__file__).resolve().parents[3]
N = 600


async def _worker(dsn: str, tmp_path: Path, pause: float = 0.02) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "gateway.etl", "--catalog", dsn, "worker", "--heartbeat", "0.3", "--interrupted-after", "3"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(tmp_path),
        env={**os.environ, "PYTHONPATH": str(ROOT), "ETL_TEST_PAUSE": str(pause)},
    )


@pytest.fixture
async def setup(tmp_path: Path, maria: dict[str, Any], pg_dsn: str) -> AsyncIterator[tuple[EtlService, Path, str]]:
    path = await slow_warga_job(tmp_path, maria, pg_dsn, N, batch_size=20)
    store = await open_runs(pg_dsn)  # the catalog: same PostgreSQL database, its own tables
    service = EtlService(store, await open_queue(store, pg_dsn))
    try:
        yield service, path, pg_dsn
    finally:
        await service.queue.close()
        await store.close()


async def test_two_workers_never_run_one_job_at_once(setup: tuple[EtlService, Path, str], tmp_path: Path) -> None:
    service, path, dsn = setup
    workers = [await _worker(dsn, tmp_path) for _ in range(2)]
    try:
        runs = [await service.start_run(path) for _ in range(2)]
        seen_running = 0
        async with asyncio.timeout(90):
            while True:
                records = [await service.get_run(r) for r in runs]
                running = [r for r in records if r.state == "running"]
                assert len(running) <= 1, running  # the catalog's unique index: never two of one job
                seen_running += bool(running)
                if all(r.state in ("succeeded", "failed", "cancelled") for r in records):
                    break
                await asyncio.sleep(0.05)
        assert [r.state for r in records] == ["succeeded"] * 2, [r.error for r in records]
        spans = sorted((r.started_at or "", r.finished_at or "") for r in records)
        assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1)), spans  # one after the other
        assert len({r.worker for r in records}) >= 1 and seen_running > 0
        assert (await pg_sql(dsn, "SELECT count(*) FROM penduduk"))[0][0] == N
    finally:
        await _stop(workers)


async def test_a_killed_worker_is_detected_and_its_run_resumed_by_the_other(
    setup: tuple[EtlService, Path, str], tmp_path: Path
) -> None:
    service, path, dsn = setup
    workers = {}
    for _ in range(2):
        proc = await _worker(dsn, tmp_path, pause=0.05)
        workers[proc.pid] = proc
    try:
        run_id = await service.start_run(path)
        record = await wait_run(service.store, run_id, states=frozenset({"running"}))
        async with asyncio.timeout(30):
            for _ in range(10_000):  # until a few batches are committed
                if (await service.get_run(run_id)).steps.get("warga", {}).get("written", 0) >= 100:
                    break
                await asyncio.sleep(0.05)
        names = await pg_sql(
            dsn, "SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname = current_database()"
        )
        assert (f"splp-etl:warga:{run_id}",) in names, names  # a DBA tells the run's sessions apart
        holder = int(str(record.worker).rsplit(":", 1)[1])
        workers[holder].send_signal(signal.SIGKILL)  # mid-run, mid-batch, without a word
        await workers.pop(holder).wait()
        done = await wait_run(service.store, run_id)
        assert done.state == "succeeded", done.error
        assert done.attempts == 2 and done.worker != record.worker
        assert done.steps["warga"]["written"] == N
        log = [e["message"] for e in await service.logs(run_id)]
        assert any(m.startswith("interrupted: its process") for m in log), log
        assert any("resuming after position" in m for m in log), log
        rows = await pg_sql(dsn, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM penduduk")
        assert rows == [(N, N, 1, N)]  # nothing lost, nothing twice
    finally:
        await _stop(list(workers.values()))


async def _stop(workers: list[asyncio.subprocess.Process]) -> None:
    for proc in workers:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
    for proc in workers:
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if proc.returncode not in (0, -signal.SIGKILL):
            assert proc.stderr is not None
            pytest.fail(f"worker exited {proc.returncode}: {(await proc.stderr.read()).decode()[-2000:]}")
