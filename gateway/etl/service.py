"""The ETL as the control plane sees it: start, resume and cancel runs by writing the catalog and the queue.

Nothing here executes a run: ETL workers (`splp etl worker`, gateway/etl/worker.py) do, in their own
processes. Previews still run here (a few sample rows, bounded by the control API's timeout).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .connections import resolve
from .engine import close_targets, open_targets, run_variables
from .errors import RunStateError
from .load import absolute, load_job
from .plan import build_plan
from .preview import preview_plan
from .queue import RunQueue
from .state import ENDED, RESUMABLE, RunRecord, RunStore


class EtlService:
    def __init__(self, store: RunStore, queue: RunQueue) -> None:
        self.store = store
        self.queue = queue

    async def start_run(self, job_file: str | Path, params: dict[str, Any] | None = None) -> str:
        """Validates the job now (JobConfigError surfaces to the caller), then queues a new run."""
        job = load_job(job_file)
        run_variables(job, "check", dict(params or {}))  # unknown parameters fail before a run exists
        record = await self.store.create_run(job.name, str(absolute(job_file)), dict(params or {}))
        await self.queue.enqueue(record.id)
        return record.id

    async def resume(self, run_id: str) -> RunRecord:
        """Queues a failed, cancelled or interrupted run again; it continues from its last checkpoint."""
        record = await self.store.get_run(run_id)
        if record.state not in RESUMABLE:
            raise RunStateError(f"run {run_id} is {record.state}; only failed, cancelled or interrupted runs resume")
        load_job(record.job_file)  # a job file broken since the run started fails here, not in a worker
        if not await self.store.requeue(run_id, RESUMABLE):
            raise RunStateError(f"run {run_id} changed state meanwhile; look again")
        await self.store.log(run_id, "info", "resume requested")
        await self.queue.enqueue(run_id)
        return await self.store.get_run(run_id)

    async def cancel(self, run_id: str) -> RunRecord:
        """Any run that has not ended: a queued or interrupted one ends now, a running one after its batch."""
        record = await self.store.get_run(run_id)
        if record.state in ENDED:
            raise RunStateError(f"run {run_id} already ended ({record.state})")
        await self.store.log(run_id, "info", "cancel requested")
        return await self.store.request_cancel(run_id)

    async def get_run(self, run_id: str) -> RunRecord:
        return await self.store.get_run(run_id)

    async def logs(self, run_id: str) -> list[dict[str, Any]]:
        return await self.store.logs(run_id)

    async def preview(
        self, job_file: str | Path, params: dict[str, Any] | None = None, rows: int = 5
    ) -> dict[str, Any]:
        job = await resolve(load_job(job_file), self.store.db)
        job_dir = absolute(job_file).parent
        targets = await open_targets(job, job_dir)
        try:
            plan = await build_plan(job, job_dir, run_variables(job, "preview", dict(params or {})), targets)
            return await preview_plan(plan, targets, rows)
        finally:
            await close_targets(targets)
