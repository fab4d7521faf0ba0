"""Execute one run of a job: plan, load every step, fill deferred columns, swap replaced tables, reconcile.

The state store holds the run record; the target databases hold everything that must survive a crash with
the data (checkpoints, IDMap, watermarks, rejected rows). Resuming a run re-plans the job with the variables
of its first start and continues every step from its last committed checkpoint.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gateway.catalog.util import now

from . import values as V
from .connections import resolve
from .connectors.base import CONNECTION_LABEL, Target
from .connectors.factory import make_target
from .errors import Cancelled, EtlError, RunStateError
from .model import JobConfig
from .plan import JobPlan, build_plan
from .reconcile import reconcile_step
from .retry import lost_connection
from .runner import RunContext, StepCounts, Where, fill_deferred, run_step
from .state import RESUMABLE, StateStore

log = logging.getLogger("splp.etl")

Progress = Callable[[str, StepCounts], Awaitable[None] | None]
HEARTBEAT_SECONDS = 5.0
RETRIES = 3  # a lost connection is retried this many times from the last checkpoint (backoff 1, 2, 4 s)


def run_variables(job: JobConfig, run_id: str, params: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - set(job.params))
    if unknown:
        raise EtlError(
            f"job {job.name}: unknown parameter(s) {', '.join(unknown)}; declared: "
            f"{', '.join(sorted(job.params)) or '(none)'}"
        )
    return {"run_date": dt.date.today().isoformat(), "run_id": run_id, "job": job.name, **job.params, **params}


async def open_targets(job: JobConfig, job_dir: Path, *, lock: bool = False) -> dict[str, Target]:
    targets: dict[str, Target] = {}
    try:
        for name in dict.fromkeys(s.target.connection for s in job.steps):
            t = make_target(job, job_dir, name)
            await t.open()
            targets[name] = t
            await t.setup()
            if lock and not await t.lock_job(job.name):
                raise RunStateError(
                    f"job {job.name} is already running against connection {name}; one run of a job at a time"
                )
    except BaseException:
        for t in targets.values():
            await t.close()
        raise
    return targets


async def close_targets(targets: dict[str, Target]) -> None:
    for t in targets.values():
        try:
            await t.close()
        except Exception:  # closing a broken connection must not hide the run's own error
            log.debug("closing a target failed", exc_info=True)


async def execute(
    job: JobConfig,
    job_dir: Path,
    run_id: str,
    store: StateStore,
    *,
    worker: str | None = None,
    progress: Progress | None = None,
    cancel: asyncio.Event | None = None,
    heartbeat_every: float = HEARTBEAT_SECONDS,
    stopping: asyncio.Event | None = None,
    retries: int = RETRIES,
    retry_backoff: float = 1.0,
) -> str:
    """Runs (or resumes) `run_id`, already claimed by `worker` (RunStore.claim), to its end; returns the final
    state. Errors end up in the run record. A heartbeat task keeps the claim fresh, carries cancels asked from
    other processes into `cancel`, and stops the run when the claim was lost (the run was declared
    interrupted and another worker took it): then this attempt writes nothing more to the run record."""
    if worker is None:  # called directly (tests, benches): claim it here, resuming a run that ended badly
        worker = await claim_here(store, run_id)
    record = await store.get_run(run_id)
    if record.state != "running" or record.worker != worker:
        raise RunStateError(f"run {run_id} is not claimed by {worker} (state {record.state})")
    resume = record.attempts > 0
    CONNECTION_LABEL.set(f"splp-etl:{job.name}:{run_id}")
    variables = record.variables or run_variables(job, run_id, record.params)
    steps_report: dict[str, dict[str, Any]] = dict(record.steps) if resume else {}
    await store.update_run(
        run_id,
        started_at=now(),
        finished_at=None,
        error=None,
        variables=variables,
        attempts=record.attempts + 1,
        steps=steps_report,
    )
    last_flush = 0.0
    cancel = cancel or asyncio.Event()
    lost = asyncio.Event()
    beat = asyncio.create_task(_heartbeat(store, run_id, worker, heartbeat_every, cancel, lost))
    relay = asyncio.create_task(_relay(stopping, cancel)) if stopping is not None else None

    async def log_line(level: str, message: str) -> None:
        await store.log(run_id, level, message)

    async def on_progress(step: str, counts: StepCounts) -> None:
        nonlocal last_flush
        steps_report[step] = counts.as_dict()
        if progress is not None:
            res = progress(step, counts)
            if res is not None:
                await res
        if counts.state != "running" or time.monotonic() - last_flush > 0.5:
            last_flush = time.monotonic()
            await store.update_run(run_id, steps=steps_report)

    await log_line("info", f"{'resuming' if resume else 'starting'} job {job.name} (attempt {record.attempts + 1})")
    targets: dict[str, Target] = {}
    state, error = "failed", None
    where = Where()
    try:
        job = await resolve(job, store.db)  # connections registered in the catalog, unsealed here only
        for attempt in range(retries + 1):
            try:
                targets = await open_targets(job, job_dir, lock=True)
                plan = await build_plan(job, job_dir, variables, targets)
                ctx = RunContext(
                    run_id, job.name, targets, variables, job.error_budget, log_line, on_progress, cancel, where=where
                )
                if attempt == 0:
                    await log_line("info", _order_line(plan))
                await _load(plan, ctx)
                if job.reconcile != "off":
                    report = {}
                    for sp in plan.ordered():
                        where.at(sp, "reconcile")
                        report[sp.name] = await reconcile_step(sp, ctx, job.reconcile)
                        if not report[sp.name]["match"]:
                            await log_line("warning", f"reconcile {sp.name}: {report[sp.name]}")
                    await store.update_run(run_id, reconcile=report)
                break
            except Exception as exc:
                cause = lost_connection(exc)
                if cause is None:
                    raise
                await close_targets(targets)
                targets = {}
                if attempt == retries:
                    raise EtlError(
                        f"job {job.name}, {where}: connection lost, {retries} retries from the last checkpoint "
                        f"failed: {type(cause).__name__}: {cause}"
                    ) from exc
                delay = min(retry_backoff * 2**attempt, 30.0)
                await log_line(
                    "warning",
                    f"job {job.name}, {where}: connection lost ({type(cause).__name__}: {cause}); retrying from "
                    f"the last checkpoint in {delay:g}s ({attempt + 1}/{retries})",
                )
                await asyncio.sleep(delay)
        state = "succeeded"
    except Cancelled as exc:
        state, error = "cancelled", str(exc)
        if stopping is not None and stopping.is_set():
            state, error = "interrupted", f"worker {worker} stopped during the run; it resumes from its checkpoint"
    except EtlError as exc:
        error = str(exc)
    except asyncio.CancelledError:
        state, error = "cancelled", "the run's task was cancelled"
        raise
    except Exception as exc:  # an unexpected failure is still recorded with the run, with its traceback
        error = f"{type(exc).__name__}: {exc}"
        await log_line("error", traceback.format_exc())
    finally:
        beat.cancel()
        if relay is not None:
            relay.cancel()
        await close_targets(targets)
        if lost.is_set():
            state, error = "interrupted", f"worker {worker} lost its claim on the run (no heartbeat in time)"
        else:
            if error:
                await log_line("error", error)
            await store.update_run(run_id, state=state, error=error, finished_at=now(), steps=steps_report)
    return state


async def claim_here(store: StateStore, run_id: str) -> str:
    """Claims `run_id` for this process (a terminal or a test); a failed, cancelled or interrupted run is
    queued again first. Raises RunStateError when it cannot run now."""
    name = f"local:{socket.gethostname()}:{os.getpid()}"
    record = await store.get_run(run_id)
    if record.state == "running":
        await store.interrupt_dead_here()  # its terminal or worker on this machine was killed
        record = await store.get_run(run_id)
    if record.state in RESUMABLE:
        await store.requeue(run_id, RESUMABLE)
    elif record.state == "succeeded":
        raise RunStateError(f"run {run_id} already succeeded; nothing to resume")
    if not await store.claim(run_id, name):
        raise RunStateError(f"run {run_id} cannot start now: another run of job {record.job} is running")
    return name


async def _relay(stopping: asyncio.Event, cancel: asyncio.Event) -> None:
    """The worker stopping stops its runs after their current batch."""
    await stopping.wait()
    cancel.set()


async def _heartbeat(
    store: StateStore, run_id: str, worker: str, every: float, cancel: asyncio.Event, lost: asyncio.Event
) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            if await store.heartbeat(run_id, worker):
                cancel.set()
        except RunStateError:
            lost.set()
            cancel.set()
            return
        except Exception:  # the catalog briefly unreachable: keep running, the next beat may pass
            log.warning("run %s: heartbeat failed", run_id, exc_info=True)


def _order_line(plan: JobPlan) -> str:
    deferred = ", ".join(f"{e.child}.{e.column}" for e in plan.order.deferred)
    return "order: " + " -> ".join(plan.order.steps) + (f"; deferred: {deferred}" if deferred else "")


async def _load(plan: JobPlan, ctx: RunContext) -> None:
    tables: dict[str, str] = {}
    for sp in plan.ordered():
        target = ctx.targets[sp.step.target.connection]
        table = sp.table
        if sp.step.mode == "replace":
            raw = await target.get_checkpoint(ctx.run_id, sp.name)
            swapped = (
                raw is not None and V.loads(raw).get("done") and await target.describe(sp.table + "__splp_new") is None
            )
            if not swapped:  # a resumed run whose swap already happened keeps the swapped table
                table = await target.prepare_replace(sp.table, fresh=raw is None)
        tables[sp.name] = table
        ctx.where.at(sp, "load")
        counts = await run_step(sp, ctx, table)
        await ctx.log(
            "info",
            f"step {sp.name}: read {counts.read}, written {counts.written}, skipped "
            f"{counts.skipped}, rejected {counts.rejected} in {counts.seconds:.2f}s",
        )
    for sp in plan.ordered():
        if sp.deferred:
            ctx.where.at(sp, "fill deferred")
            n = await fill_deferred(sp, ctx, tables[sp.name])
            await ctx.log("info", f"step {sp.name}: filled {', '.join(c.name for c in sp.deferred)} on {n} rows")
    for sp in plan.ordered():
        if sp.step.mode == "replace":
            target = ctx.targets[sp.step.target.connection]
            if tables[sp.name] != sp.table and await target.describe(tables[sp.name]) is not None:
                await target.swap(sp.table, tables[sp.name])
                await ctx.log("info", f"step {sp.name}: swapped the new {sp.table} in")
