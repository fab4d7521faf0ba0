"""`splp etl worker`: takes queued runs from the queue and executes them, off every request path.

Several workers may run per machine and on several machines, all on one catalog. Each one:
- claims a run before executing it (RunStore.claim: one run per job is `running`, the database decides);
  a run whose job is busy goes back to the queue for later;
- heartbeats the runs it executes (gateway/etl/engine.py) and carries cancels asked elsewhere into them;
- ticks the scheduler (gateway/etl/schedule.py) for the job files of `jobs_dir`;
- sweeps: a `running` run whose worker has not heartbeated for `interrupted_after` seconds is marked
  `interrupted` (its worker died: SIGKILL, power loss, lost network), and an interrupted run that has
  attempts left is queued again, so another worker resumes it from its last committed checkpoint.
On SIGTERM/SIGINT a worker stops taking runs; the runs it executes stop after their current batch and
are queued again for any worker.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import signal
import socket
from dataclasses import dataclass

from gateway.catalog.util import now

from .engine import execute
from .errors import EtlError
from .load import absolute, job_files, load_job
from .model import JobConfig
from .queue import RETRY_SECONDS, RunQueue, open_queue
from .schedule import Scheduler
from .state import RunStore, open_runs
from .webhooks import notify

log = logging.getLogger("splp.etl.worker")


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    concurrency: int = 1  # runs executed at once by this worker
    heartbeat_seconds: float = 5.0
    interrupted_after: float = 30.0  # no heartbeat for this long: the run is interrupted (issue: < 1 min)
    resume_attempts: int = 3  # an interrupted run is queued again while it has been started fewer times
    jobs_dir: str | None = None  # job files whose `schedule:` this worker's scheduler fires (None: no scheduler)
    tick_seconds: float = 15.0  # how often the scheduler looks for due jobs


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(self, store: RunStore, queue: RunQueue, settings: WorkerSettings, name: str | None = None) -> None:
        self.store = store
        self.queue = queue
        self.settings = settings
        self.name = name or worker_name()
        self.stopping = asyncio.Event()
        self.parent: int | None = None  # started by `splp serve`: stop when it is gone, even SIGKILLed

    async def handle(self, run_id: str) -> None:
        """One queued run: claim it, execute it; a busy job's run goes back to the queue."""
        if self.stopping.is_set():
            await self.queue.enqueue(run_id, delay=RETRY_SECONDS)
            return
        if not await self.store.claim(run_id, self.name):
            record = await self.store.get_run(run_id)
            if record.state == "queued":  # another run of its job is running: offer it again later
                await self.queue.enqueue(run_id, delay=RETRY_SECONDS)
            return
        record = await self.store.get_run(run_id)
        try:
            job = load_job(record.job_file)
        except EtlError as exc:
            await self.store.log(run_id, "error", str(exc))
            await self.store.update_run(run_id, state="failed", error=str(exc), finished_at=now())
            return
        await self.store.log(run_id, "info", f"worker {self.name} took the run")
        state = await execute(
            job,
            absolute(record.job_file).parent,
            run_id,
            self.store,
            worker=self.name,
            heartbeat_every=self.settings.heartbeat_seconds,
            stopping=self.stopping,
        )
        if state == "interrupted" and self.stopping.is_set():
            await self.requeue(run_id)
        if state in ("succeeded", "failed", "cancelled"):
            await self.after_run(job, run_id, state)

    async def after_run(self, job: JobConfig, run_id: str, state: str) -> None:
        """A run ended: tell its `notify` webhooks, and start the jobs chained `after` it when it succeeded."""
        record = await self.store.get_run(run_id)
        event = {
            "event": "etl.run.ended",
            "job": record.job,
            "run_id": run_id,
            "state": state,
            "error": record.error,
            "steps": record.steps,
            "finished_at": record.finished_at,
        }
        for hook in job.notify:
            delivered = await notify(hook.url, hook.secret, event)
            await self.store.log(
                run_id,
                "info" if delivered else "warning",
                f"run-end webhook {hook.url}: " + ("delivered" if delivered else "not delivered after retries"),
            )
        if state != "succeeded" or self.settings.jobs_dir is None:
            return
        for path in await asyncio.to_thread(job_files, self.settings.jobs_dir):
            try:
                chained = load_job(path)
            except EtlError:
                continue
            if job.name in chained.after:
                started = await self.store.create_run(chained.name, str(path.resolve()), {})
                await self.store.log(started.id, "info", f"started after run {run_id} of job {job.name} succeeded")
                await self.queue.enqueue(started.id)

    async def requeue(self, run_id: str) -> bool:
        """An interrupted run back to `queued` (once, whoever asks first) and onto the queue."""
        if await self.store.requeue(run_id):
            await self.queue.enqueue(run_id)
            return True
        return False

    async def sweep(self, at: dt.datetime | None = None) -> None:
        """Interrupted runs: detect the dead workers' runs, queue again those with attempts left."""
        older = dt.timedelta(seconds=self.settings.interrupted_after)
        gone = await self.store.interrupt_dead_here()
        for record in gone + await self.store.mark_interrupted(older, at):
            await self.store.log(record.id, "warning", f"interrupted: {record.error}")
            log.warning("run %s of job %s interrupted: %s", record.id, record.job, record.error)
        for record in await self.store.list_runs(state="interrupted", limit=100):
            if record.attempts < self.settings.resume_attempts and await self.requeue(record.id):
                await self.store.log(record.id, "info", f"queued again by worker {self.name} to resume")

    async def _sweeper(self) -> None:
        every = max(0.2, min(self.settings.heartbeat_seconds, self.settings.interrupted_after / 3))
        while not self.stopping.is_set():
            if self.parent is not None and os.getppid() != self.parent:
                log.warning("the process that started this worker (%d) is gone; stopping", self.parent)
                self.stopping.set()
                break
            try:
                await self.sweep()
            except Exception:  # the catalog unreachable for a moment: the next sweep retries
                log.warning("sweeping interrupted runs failed", exc_info=True)
            try:
                await asyncio.wait_for(self.stopping.wait(), every)
            except TimeoutError:
                pass

    async def _scheduler(self) -> None:
        if self.settings.jobs_dir is None:
            return
        scheduler = Scheduler(self.store, self.queue, self.settings.jobs_dir)
        while not self.stopping.is_set():
            try:
                await scheduler.tick()
            except Exception:  # the catalog unreachable for a moment: the next tick catches up
                log.warning("scheduler tick failed", exc_info=True)
            try:
                await asyncio.wait_for(self.stopping.wait(), self.settings.tick_seconds)
            except TimeoutError:
                pass

    async def serve(self) -> None:
        sweeper = asyncio.gather(self._sweeper(), self._scheduler())
        try:
            await self.queue.serve(
                self.handle, concurrency=self.settings.concurrency, name=self.name, stop=self.stopping
            )
        finally:
            self.stopping.set()
            await sweeper


async def run_worker(
    catalog: str, settings: WorkerSettings, name: str | None = None, parent: int | None = None
) -> None:
    """The worker process: until SIGTERM or SIGINT (or, with `parent`, until that process is gone)."""
    store = await open_runs(catalog)
    queue = await open_queue(store, catalog)
    worker = Worker(store, queue, settings, name)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stopping.set)
    log.info("ETL worker %s on %s", worker.name, catalog.split("@")[-1])
    worker.parent = parent
    try:
        await worker.serve()
    finally:
        await queue.close()
        await store.close()
