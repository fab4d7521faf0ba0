"""The ETL scheduler with a controllable clock: cron in Asia/Jakarta by default, one run per fire time across
schedulers racing on one catalog, missed fire times skipped or caught up once, bad expressions refused."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from gateway.etl.errors import JobConfigError
from gateway.etl.load import load_job
from gateway.etl.queue import open_queue
from gateway.etl.schedule import Scheduler
from gateway.etl.state import RunStore

from .conftest import run_store, write_job

UTC = dt.UTC


def _job(jobs: Path, name: str, schedule: dict[str, Any]) -> Path:
    return write_job(
        jobs,
        {
            "name": name,
            "connections": {"out": {"kind": "sqlite", "path": "out.db"}},
            "params": {"region": "x"},
            "schedule": schedule,
            "steps": [
                {
                    "name": "a",
                    "source": {"file": "a.csv", "format": "csv"},
                    "target": {"connection": "out", "table": "a"},
                }
            ],
        },
        name=f"{name}.yaml",
    )


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


async def _schedulers(store: RunStore, uri: str, jobs: Path, clock: Clock, n: int) -> list[Scheduler]:
    return [Scheduler(store, await open_queue(store, uri), jobs, clock=clock) for _ in range(n)]


async def _scenario(store: RunStore, uri: str, jobs: Path) -> None:
    _job(jobs, "nightly", {"cron": "0 2 * * *", "params": {"region": "jabar"}})  # 02:00 WIB = 19:00 UTC
    _job(jobs, "catchup", {"cron": "0 2 * * *", "missed": "catch_up"})
    clock = Clock(dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    a, b, c = await _schedulers(store, uri, jobs, clock, 3)
    assert await a.tick() == []  # a new schedule starts from the present: no run for last night
    clock.at = dt.datetime(2026, 3, 1, 18, 59, 59, tzinfo=UTC)  # 01:59:59 WIB
    assert await a.tick() == []
    clock.at = dt.datetime(2026, 3, 1, 19, 0, 5, tzinfo=UTC)  # 02:00:05 WIB: due; three workers race for it
    started = [r for batch in await asyncio.gather(a.tick(), b.tick(), c.tick()) for r in batch]
    assert len(started) == 2  # one run per job, however many schedulers ticked
    runs = {(await store.get_run(r)).job: await store.get_run(r) for r in started}
    assert runs["nightly"].params == {"region": "jabar"} and runs["nightly"].state == "queued"
    assert await a.tick() == [] and await b.tick() == []  # same fire time: nothing more
    # three nights with no worker at all, then one comes back at 09:00 WIB
    clock.at = dt.datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    again = await b.tick()
    assert [(await store.get_run(r)).job for r in again] == ["catchup"]  # skip: none; catch_up: exactly one
    assert await b.tick() == []


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_one_run_per_fire_time_and_missed_runs(kind: str, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    async with run_store(kind, tmp_path) as (store, uri):
        await _scenario(store, uri, jobs)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"cron": "0 0 31 2 *"}, "'0 0 31 2 *' never fires (no such date)"),
        ({"cron": "every night"}, "'every night' is not a 5-field cron expression"),
        ({"cron": "0 2 * * *", "timezone": "Jawa/Barat"}, "unknown time zone 'Jawa/Barat'"),
        ({"cron": "0 2 * * *", "missed": "twice"}, "schedule.missed: 'twice': Input should be 'skip' or 'catch_up'"),
    ],
)
def test_bad_schedules_are_refused_with_their_key(tmp_path: Path, schedule: dict[str, Any], message: str) -> None:
    with pytest.raises(JobConfigError) as info:
        load_job(_job(tmp_path, "bad", schedule))
    assert message in str(info.value) and "schedule" in str(info.value)
