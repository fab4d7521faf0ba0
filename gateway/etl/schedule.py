"""Cron schedules for ETL jobs: `schedule: {cron, timezone, missed, params}` in a job file.

Every ETL worker ticks the scheduler; a fire time is taken by one conditional UPDATE of `etl_schedules`
(migration 13), so a job fires once per fire time across all workers and machines, and its run then waits in
the queue like any other (one running run per job, RunStore.claim). Fire times missed while no worker ran
are skipped (`missed: skip`, the default, beyond `grace`) or caught up with one run however many were missed
(`missed: catch_up`). A new or changed schedule starts from the present: it never fires for the past.
The clock is a parameter, so tests move time instead of waiting for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterNotAlphaError, croniter

from gateway.catalog.util import stamp

from .errors import JobConfigError
from .load import job_files, load_job
from .queue import RunQueue
from .state import RunStore

log = logging.getLogger("splp.etl.schedule")

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_schedule(cron: str, timezone: str) -> None:
    """ValueError naming the problem: not a cron expression, an unknown zone, or one that never fires."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}; expected an IANA name such as Asia/Jakarta") from None
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise ValueError(f"{cron!r} is not a 5-field cron expression (minute hour day month weekday)")
    try:
        croniter(cron, dt.datetime(2026, 1, 1, tzinfo=zone)).get_next(dt.datetime)
    except (CroniterBadDateError, CroniterBadCronError, CroniterNotAlphaError):
        raise ValueError(f"{cron!r} never fires (no such date)") from None


def latest_fire(cron: str, timezone: str, now: dt.datetime) -> dt.datetime:
    """The most recent fire time at or before `now`, in UTC."""
    local = now.astimezone(ZoneInfo(timezone))
    fire: dt.datetime = croniter(cron, local + dt.timedelta(seconds=1)).get_prev(dt.datetime)
    return fire.astimezone(dt.UTC)


class Scheduler:
    def __init__(
        self,
        store: RunStore,
        queue: RunQueue,
        jobs_dir: str | Path,
        *,
        clock: Clock = utc_now,
        grace: dt.timedelta = dt.timedelta(minutes=1),
    ) -> None:
        self.store = store
        self.queue = queue
        self.jobs_dir = Path(jobs_dir)
        self.clock = clock
        self.grace = grace

    async def tick(self) -> list[str]:
        """Starts the runs that are due now; returns their ids."""
        now = self.clock()
        started = []
        for path in await asyncio.to_thread(job_files, self.jobs_dir):
            try:
                job = load_job(path)
            except JobConfigError as exc:  # `splp check` reports it; the other jobs keep their schedules
                log.debug("scheduler: skipping %s: %s", path, exc)
                continue
            schedule = job.schedule
            if schedule is None:
                continue
            due = stamp(latest_fire(schedule.cron, schedule.timezone, now))
            async with self.store.db.transaction() as conn:
                last = await conn.fetchval("SELECT last_fire FROM etl_schedules WHERE job = $1", job.name)
                if last is None:  # a new schedule starts from the present
                    await conn.execute(
                        "INSERT INTO etl_schedules (job, last_fire) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        job.name,
                        due,
                    )
                    continue
                if due <= last:
                    continue
                taken = await conn.execute(
                    "UPDATE etl_schedules SET last_fire = $2 WHERE job = $1 AND last_fire = $3", job.name, due, last
                )
            if not taken:  # another worker took this fire time
                continue
            late = now - dt.datetime.fromisoformat(due)
            if schedule.missed == "skip" and late > self.grace:
                log.warning("scheduler: job %s missed its run of %s (%s late); skipped", job.name, due, late)
                continue
            record = await self.store.create_run(job.name, str(path.resolve()), dict(schedule.params))
            await self.store.log(
                record.id, "info", f"scheduled: {schedule.cron} ({schedule.timezone}), fire time {due}"
            )
            await self.queue.enqueue(record.id)
            async with self.store.db.transaction() as conn:
                await conn.execute("UPDATE etl_schedules SET last_run = $2 WHERE job = $1", job.name, record.id)
            started.append(record.id)
        return started
