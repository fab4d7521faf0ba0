"""`splp etl ...`: the ETL from a terminal. Wired into `splp` by gateway/cli.py.

    preview JOB            plan + mapped sample rows, writes nothing
    run JOB [--queue]      runs here with a progress bar (or queues it for the workers with --queue)
    runs [JOB]             history: state, rows, duration, error
    status RUN [--log]     one run record
    logs RUN [--follow]    a run's log
    resume JOB|RUN         the job's latest resumable run (or that run), here or --queue
    cancel RUN             any run that has not ended
    worker                 an ETL worker process (until SIGTERM)

Run records live in the catalog (--catalog URI, else $SPLP_CATALOG, else storage.catalog of --config).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import sys
from typing import Any

import orjson
import uvloop

from .engine import claim_here, execute, run_variables
from .errors import EtlError, RunNotFound, RunStateError
from .load import absolute, load_job
from .queue import open_queue
from .runner import StepCounts
from .state import CATALOG_ENV, RESUMABLE, RunRecord, RunStore, open_runs
from .worker import WorkerSettings, run_worker

DEFAULT_CONFIG = "conf/gateway.yaml"


def catalog_uri(args: argparse.Namespace) -> str:
    """--catalog, else $SPLP_CATALOG, else storage.catalog of the gateway config (as `splp serve` uses it)."""
    if args.catalog:
        return str(args.catalog)
    if os.environ.get(CATALOG_ENV):
        return os.environ[CATALOG_ENV]
    from gateway.config.load import load_config

    if os.path.exists(args.config):
        return load_config(args.config).gateway.storage.catalog
    from .state import DEFAULT_CATALOG

    return DEFAULT_CATALOG


def _job_name(text: str) -> str:
    """A job file's `name:`, or the text itself when it names no file (a job name)."""
    return load_job(text).name if os.path.isfile(text) else text


def _params(pairs: list[str]) -> dict[str, str]:
    out = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise EtlError(f"--param {p!r}: expected key=value")
        out[key] = value
    return out


def _print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


async def _preview(args: argparse.Namespace) -> int:
    from .service import EtlService

    store = await open_runs(catalog_uri(args))
    try:
        result = await EtlService(store, await open_queue(store, catalog_uri(args))).preview(
            args.job, _params(args.param), rows=args.rows
        )
    finally:
        await store.close()
    _print_json(result)
    return 0


class _Bar:
    """A rich progress bar per step when stdout is a terminal; nothing otherwise."""

    def __init__(self, enabled: bool, console: Any = None) -> None:
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[n]}"),
                TimeElapsedColumn(),
                console=console,
            )

    def __enter__(self) -> _Bar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, step: str, counts: StepCounts) -> None:
        if self._progress is None:
            return
        if step not in self._tasks:
            self._tasks[step] = self._progress.add_task(step, total=None, n="")
        done = counts.state != "running"
        self._progress.update(
            self._tasks[step],
            completed=counts.read,
            total=counts.read if done else None,
            n=f"read {counts.read} written {counts.written} rejected {counts.rejected}",
        )


async def _execute_here(store: RunStore, record: RunRecord) -> int:
    """Executes the run in this terminal with a progress bar; prints the report."""
    name = await claim_here(store, record.id)
    sys.stderr.write(f"run {record.id}\n")
    job = load_job(record.job_file)
    with _Bar(sys.stdout.isatty()) as bar:
        state = await execute(job, absolute(record.job_file).parent, record.id, store, worker=name, progress=bar.update)
    after = await store.get_run(record.id)
    _print_json(
        {"run": record.id, "state": state, "error": after.error, "steps": after.steps, "reconcile": after.reconcile}
    )
    return 0 if state == "succeeded" else 1


async def _queue(store: RunStore, uri: str, record: RunRecord) -> int:
    queue = await open_queue(store, uri)
    try:
        await queue.enqueue(record.id)
    finally:
        await queue.close()
    sys.stdout.write(f"{record.id} queued\n")
    return 0


async def _run(args: argparse.Namespace) -> int:
    uri = catalog_uri(args)
    store = await open_runs(uri)
    try:
        if args.resume:
            return await _resume_run(store, uri, await store.get_run(args.resume), args.queue)
        if not args.job:
            raise EtlError("give a JOB file, or --resume RUN_ID")
        job = load_job(args.job)
        params = _params(args.param)
        run_variables(job, "check", params)
        record = await store.create_run(job.name, str(absolute(args.job)), params)
        return await (_queue(store, uri, record) if args.queue else _execute_here(store, record))
    finally:
        await store.close()


async def _resume_run(store: RunStore, uri: str, record: RunRecord, queue: bool) -> int:
    if record.state == "running":  # held by a terminal or worker of this machine that was killed?
        await store.interrupt_dead_here()
        record = await store.get_run(record.id)
    if record.state not in RESUMABLE:
        raise RunStateError(f"run {record.id} is {record.state}; only failed, cancelled or interrupted runs resume")
    if not queue:
        return await _execute_here(store, record)
    if not await store.requeue(record.id, RESUMABLE):
        raise RunStateError(f"run {record.id} changed state meanwhile; look again")
    return await _queue(store, uri, record)


async def _resume(args: argparse.Namespace) -> int:
    """JOB (a job file or a job name): its latest run when resumable; or a run id."""
    uri = catalog_uri(args)
    store = await open_runs(uri, create=False)
    try:
        target = args.target
        try:
            record = await store.get_run(target)
        except RunNotFound:
            name = _job_name(target)
            found = await store.latest_resumable(name)
            if found is None:
                latest = await store.list_runs(name, limit=1)
                said = f"its latest run {latest[0].id} is {latest[0].state}" if latest else "it has no run"
                raise RunStateError(f"job {name}: nothing to resume ({said})") from None
            record = found
        return await _resume_run(store, uri, record, args.queue)
    finally:
        await store.close()


def _duration(record: RunRecord) -> str:
    if not record.started_at:
        return "-"
    end = record.finished_at or record.heartbeat_at
    if not end:
        return "-"
    seconds = (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(record.started_at)).total_seconds()
    return f"{seconds:.1f}s"


async def _runs(args: argparse.Namespace) -> int:
    store = await open_runs(catalog_uri(args), create=False)
    try:
        name = _job_name(args.job) if args.job else None
        records = await store.list_runs(name, limit=args.limit, state=args.state)
    finally:
        await store.close()
    if args.json:
        _print_json([r.model_dump() for r in records])
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("run", "job", "state", "read", "written", "rejected", "duration", "error", box=None)
    for r in records:
        steps = r.steps.values()
        table.add_row(
            r.id,
            r.job,
            r.state,
            str(sum(int(s.get("read", 0)) for s in steps)),
            str(sum(int(s.get("written", 0)) for s in steps)),
            str(sum(int(s.get("rejected", 0)) for s in steps)),
            _duration(r),
            (r.error or "")[:80],
        )
    Console(width=200 if not sys.stdout.isatty() else None).print(table)
    return 0


async def _status(args: argparse.Namespace) -> int:
    store = await open_runs(catalog_uri(args), create=False)
    try:
        record = await store.get_run(args.run_id)
        data = record.model_dump()
        if args.log:
            data["log"] = await store.logs(args.run_id)
        _print_json(data)
        return 0
    finally:
        await store.close()


async def _logs(args: argparse.Namespace) -> int:
    store = await open_runs(catalog_uri(args), create=False)
    try:
        last = 0
        while True:
            for entry in await store.logs(args.run_id, after=last):
                last = int(entry["id"])
                sys.stdout.write(f"{entry['at']} {entry['level']:7} {entry['message']}\n")
            sys.stdout.flush()
            if not args.follow or (await store.get_run(args.run_id)).state not in ("queued", "running"):
                return 0
            await asyncio.sleep(1.0)
    finally:
        await store.close()


async def _cancel(args: argparse.Namespace) -> int:
    from .service import EtlService

    uri = catalog_uri(args)
    store = await open_runs(uri, create=False)
    try:
        service = EtlService(store, await open_queue(store, uri))
        record = await service.cancel(args.run_id)
        await service.queue.close()
    finally:
        await store.close()
    word = "cancelled" if record.state == "cancelled" else "asked to stop after its current batch"
    sys.stdout.write(f"{record.id} {word}\n")
    return 0


def _default_jobs(config: str) -> str | None:
    """`etl/` beside the gateway config (conf/etl), as the control API reads it."""
    folder = os.path.join(config if os.path.isdir(config) else os.path.dirname(config), "etl")
    return folder if os.path.isdir(folder) else None


async def _worker(args: argparse.Namespace) -> int:
    logging.getLogger("splp.etl").setLevel(logging.INFO)  # a worker's log is its operator's view
    settings = WorkerSettings(
        concurrency=args.concurrency,
        heartbeat_seconds=args.heartbeat,
        interrupted_after=args.interrupted_after,
        resume_attempts=args.resume_attempts,
        jobs_dir=args.jobs or _default_jobs(args.config),
    )
    await run_worker(catalog_uri(args), settings, parent=os.getppid() if args.exit_with_parent else None)
    return 0


def _sync(fn: Any) -> Any:
    def call(args: argparse.Namespace) -> int:
        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # the gateway's loop, faster I/O
                return int(runner.run(fn(args)))
        except EtlError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 2

    return call


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    etl = subparsers.add_parser("etl", help="data consolidation jobs (Konsolidasi Data)")
    etl.add_argument(
        "--catalog",
        default=None,
        help=f"catalog store URI holding the runs (default ${CATALOG_ENV}, else storage.catalog of --config)",
    )
    etl.add_argument("--config", default=DEFAULT_CONFIG, help=f"gateway config (default {DEFAULT_CONFIG})")
    sub = etl.add_subparsers(dest="etl_command", required=True)

    p = sub.add_parser("preview", help="validate a job and show its plan and sample rows, without writing")
    p.add_argument("job", help="job YAML file")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="job parameter")
    p.add_argument("--rows", type=int, default=5, help="sample rows per step")
    p.set_defaults(func=_sync(_preview))

    r = sub.add_parser("run", help="run a job here (progress bar), or queue it for the workers")
    r.add_argument("job", nargs="?", help="job YAML file (optional with --resume)")
    r.add_argument("--param", action="append", default=[], metavar="K=V", help="job parameter")
    r.add_argument("--resume", metavar="RUN_ID", help="continue this run from its last committed batch")
    r.add_argument("--queue", action="store_true", help="queue the run for `splp etl worker` instead")
    r.set_defaults(func=_sync(_run))

    h = sub.add_parser("runs", help="run history: state, rows, duration, error (newest first)")
    h.add_argument("job", nargs="?", help="only this job (a job file or a job name)")
    h.add_argument("--state", help="only runs in this state")
    h.add_argument("--limit", type=int, default=20)
    h.add_argument("--json", action="store_true", help="the run records as JSON")
    h.set_defaults(func=_sync(_runs))

    s = sub.add_parser("status", help="show a run record")
    s.add_argument("run_id")
    s.add_argument("--log", action="store_true", help="include the run log")
    s.set_defaults(func=_sync(_status))

    lg = sub.add_parser("logs", help="print a run's log")
    lg.add_argument("run_id")
    lg.add_argument("--follow", "-f", action="store_true", help="keep printing until the run ends")
    lg.set_defaults(func=_sync(_logs))

    rs = sub.add_parser("resume", help="resume a job's latest failed, cancelled or interrupted run")
    rs.add_argument("target", metavar="JOB", help="a job file, a job name, or a run id")
    rs.add_argument("--queue", action="store_true", help="queue it for `splp etl worker` instead")
    rs.set_defaults(func=_sync(_resume))

    c = sub.add_parser("cancel", help="cancel a run (queued/interrupted: now; running: after its batch)")
    c.add_argument("run_id")
    c.set_defaults(func=_sync(_cancel))

    w = sub.add_parser("worker", help="an ETL worker: executes queued runs until SIGTERM")
    w.add_argument("--concurrency", type=int, default=1, help="runs at once (default 1)")
    w.add_argument("--heartbeat", type=float, default=5.0, help="seconds between heartbeats (default 5)")
    w.add_argument(
        "--interrupted-after",
        type=float,
        default=30.0,
        help="seconds without heartbeat before a run is marked interrupted (default 30)",
    )
    w.add_argument("--resume-attempts", type=int, default=3, help="auto-resume interrupted runs up to N starts")
    w.add_argument("--jobs", default=None, help="folder of job files to schedule (default: etl/ beside --config)")
    w.add_argument("--exit-with-parent", action="store_true", help="stop when the process that started it is gone")
    w.set_defaults(func=_sync(_worker))


logging.getLogger("procrastinate").setLevel(logging.WARNING)
