"""The ETL as an async API for the control plane: start a run (returns its id at once), poll it, cancel it.

Runs execute in background tasks, at most `max_concurrent` at a time; the rest wait in state "queued".
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from .engine import close_targets, execute, open_targets, run_variables
from .errors import RunStateError
from .load import absolute, load_job
from .plan import build_plan
from .preview import preview_plan
from .state import RunRecord, StateStore

log = logging.getLogger("splp.etl")


class EtlService:
    def __init__(self, store: StateStore, *, max_concurrent: int = 2) -> None:
        self.store = store
        self._slots = asyncio.Semaphore(max_concurrent)
        self._tasks: dict[str, asyncio.Task[str]] = {}
        self._cancel: dict[str, asyncio.Event] = {}

    async def start_run(
        self, job_file: str | Path, params: dict[str, Any] | None = None, resume: str | None = None
    ) -> str:
        """Validates the job now (JobConfigError surfaces to the caller); the load runs in the background."""
        if resume is not None:
            record = await self.store.get_run(resume)
            if resume in self._tasks and not self._tasks[resume].done():
                raise RunStateError(f"run {resume} is still running in this process")
            if record.state == "succeeded":
                raise RunStateError(f"run {resume} already succeeded; nothing to resume")
            job_file, run_id = record.job_file, resume
            job = load_job(job_file)
            await self.store.update_run(run_id, state="queued")
        else:
            job = load_job(job_file)
            run_variables(job, "check", dict(params or {}))  # unknown parameters fail before a run exists
            record = await self.store.create_run(job.name, str(absolute(job_file)), dict(params or {}))
            run_id = record.id
        event = asyncio.Event()
        self._cancel[run_id] = event
        job_dir = absolute(job_file).parent
        self._tasks[run_id] = asyncio.create_task(
            self._run(job, job_dir, run_id, resume is not None, event), name=f"etl-run-{run_id}"
        )
        return run_id

    async def _run(self, job: Any, job_dir: Path, run_id: str, resume: bool, event: asyncio.Event) -> str:
        async with self._slots:
            if event.is_set():
                await self.store.update_run(run_id, state="cancelled", error="cancelled before it started")
                return "cancelled"
            return await execute(job, job_dir, run_id, self.store, resume=resume, cancel=event)

    async def get_run(self, run_id: str) -> RunRecord:
        return await self.store.get_run(run_id)

    async def logs(self, run_id: str) -> list[dict[str, str]]:
        return await self.store.logs(run_id)

    async def cancel(self, run_id: str) -> bool:
        """Asks the run to stop after its current batch; False when it is not running in this process."""
        event = self._cancel.get(run_id)
        task = self._tasks.get(run_id)
        if event is None or task is None or task.done():
            return False
        event.set()
        return True

    async def wait(self, run_id: str) -> RunRecord:
        task = self._tasks.get(run_id)
        if task is not None:
            await asyncio.shield(task)
        return await self.store.get_run(run_id)

    async def preview(
        self, job_file: str | Path, params: dict[str, Any] | None = None, rows: int = 5
    ) -> dict[str, Any]:
        job = load_job(job_file)
        job_dir = absolute(job_file).parent
        targets = await open_targets(job, job_dir)
        try:
            plan = await build_plan(job, job_dir, run_variables(job, "preview", dict(params or {})), targets)
            return await preview_plan(plan, targets, rows)
        finally:
            await close_targets(targets)

    async def close(self) -> None:
        for event in self._cancel.values():
            event.set()
        for task in self._tasks.values():
            if not task.done():
                try:
                    await task
                except Exception:  # already recorded in the run record
                    log.debug("run task ended with an error", exc_info=True)
