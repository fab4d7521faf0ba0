"""`splp etl preview|run|status`: the ETL from a terminal. Wired into `splp` by gateway/cli.py."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import orjson
import uvloop

from .engine import execute, run_variables
from .errors import EtlError, RunStateError
from .load import absolute, load_job
from .runner import StepCounts
from .state import default_state_path, open_store


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

    store = await open_store(args.state)
    try:
        result = await EtlService(store).preview(args.job, _params(args.param), rows=args.rows)
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


async def _run(args: argparse.Namespace) -> int:
    store = await open_store(args.state)
    try:
        if args.resume:
            record = await store.get_run(args.resume)
            if record.state == "succeeded":
                raise RunStateError(f"run {record.id} already succeeded; nothing to resume")
            job_file = args.job if args.job else record.job_file
            job = load_job(job_file)
            run_id, resume = record.id, True
        else:
            if not args.job:
                raise EtlError("give a JOB file, or --resume RUN_ID")
            job_file = args.job
            job = load_job(job_file)
            params = _params(args.param)
            run_variables(job, "check", params)
            run_id, resume = (await store.create_run(job.name, str(absolute(job_file)), params)).id, False
        sys.stderr.write(f"run {run_id}\n")
        with _Bar(sys.stdout.isatty()) as bar:
            state = await execute(job, absolute(job_file).parent, run_id, store, resume=resume, progress=bar.update)
        record = await store.get_run(run_id)
        _print_json(
            {"run": run_id, "state": state, "error": record.error, "steps": record.steps, "reconcile": record.reconcile}
        )
        return 0 if state == "succeeded" else 1
    finally:
        await store.close()


async def _status(args: argparse.Namespace) -> int:
    store = await open_store(args.state)
    try:
        record = await store.get_run(args.run_id)
        data = record.model_dump()
        if args.log:
            data["log"] = await store.logs(args.run_id)
        _print_json(data)
        return 0
    finally:
        await store.close()


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
        "--state",
        default=None,
        help="run state store: a SQLite file or a postgresql:// DSN "
        f"(default $SPLP_ETL_STATE or {default_state_path()})",
    )
    sub = etl.add_subparsers(dest="etl_command", required=True)

    p = sub.add_parser("preview", help="validate a job and show its plan and sample rows, without writing")
    p.add_argument("job", help="job YAML file")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="job parameter")
    p.add_argument("--rows", type=int, default=5, help="sample rows per step")
    p.set_defaults(func=_sync(_preview))

    r = sub.add_parser("run", help="run a job, or resume a failed/killed run")
    r.add_argument("job", nargs="?", help="job YAML file (optional with --resume)")
    r.add_argument("--param", action="append", default=[], metavar="K=V", help="job parameter")
    r.add_argument("--resume", metavar="RUN_ID", help="continue this run from its last committed batch")
    r.set_defaults(func=_sync(_run))

    s = sub.add_parser("status", help="show a run record")
    s.add_argument("run_id")
    s.add_argument("--log", action="store_true", help="include the run log")
    s.set_defaults(func=_sync(_status))
