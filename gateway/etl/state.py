"""Run records in the catalog's database (migration 11): state, per-step counts, timings, reconciliation, a
log, and the liveness fields a worker keeps fresh (worker, heartbeat_at, cancel_requested).

One store for everything: the catalog's DB layer (gateway/catalog/db.py) and its migrations, on SQLite (the
embedded default) or PostgreSQL. `open_runs(uri)` opens the catalog store at `uri` and migrates it.
The counts shown for a run are those of its committed checkpoints: the engine moves them only after a
batch commits (gateway/etl/runner.py) and writes them here before the next batch starts.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field

from gateway.catalog.db import Database, open_database
from gateway.catalog.errors import Conflict
from gateway.catalog.migrate import migrate
from gateway.catalog.util import now, stamp

from .errors import EtlError, RunNotFound, RunStateError

RunState = Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
ENDED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
RESUMABLE: frozenset[str] = frozenset({"failed", "cancelled", "interrupted"})
DEFAULT_CATALOG = "sqlite:///var/splp/catalog.db"
CATALOG_ENV = "SPLP_CATALOG"


def default_catalog() -> str:
    return os.environ.get(CATALOG_ENV, DEFAULT_CATALOG)


class RunRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="run id")
    job: str = Field(description="job name")
    job_file: str = Field(description="path of the job file the run was started from")
    params: dict[str, Any] = Field(default_factory=dict, description="parameters given to the run")
    variables: dict[str, Any] = Field(default_factory=dict, description="variables fixed at the first start")
    state: RunState = Field(description="queued, running, succeeded, failed, cancelled or interrupted")
    created_at: str = Field(description="ISO time the run was queued")
    started_at: str | None = Field(None, description="ISO time the (last) attempt started")
    finished_at: str | None = Field(None, description="ISO time the run ended")
    error: str | None = Field(None, description="why the run failed")
    steps: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per step: counts and timings")
    reconcile: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per step: counts, checksums")
    attempts: int = Field(0, description="how many times the run was started (1 + resumes)")
    worker: str | None = Field(None, description="the worker holding (or last holding) the run")
    heartbeat_at: str | None = Field(None, description="ISO time its worker last said it was alive")
    cancel_requested: bool = Field(False, description="a cancel was asked; the run stops after its batch")


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4)


_JSON_FIELDS = ("params", "variables", "steps", "reconcile")
_COLUMNS = tuple(RunRecord.model_fields)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM etl_runs"


def _encode(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        return orjson.dumps(value, default=str).decode()
    if name == "cancel_requested":
        return int(bool(value))
    return value


def _record(row: dict[str, Any]) -> RunRecord:
    data = dict(row)
    for k in _JSON_FIELDS:
        data[k] = orjson.loads(data[k])
    data["cancel_requested"] = bool(data["cancel_requested"])
    return RunRecord.model_validate(data)


class RunStore:
    """Run records and logs over the catalog database; every method is one short transaction."""

    def __init__(self, db: Database, *, owns_db: bool = False) -> None:
        self.db = db
        self._owns_db = owns_db

    async def create_run(self, job: str, job_file: str, params: dict[str, Any]) -> RunRecord:
        rec = RunRecord(id=new_run_id(), job=job, job_file=job_file, params=params, state="queued", created_at=now())
        row = rec.model_dump()
        async with self.db.transaction() as conn:
            await conn.execute(
                f"INSERT INTO etl_runs ({', '.join(_COLUMNS)}) VALUES "
                f"({', '.join(f'${i + 1}' for i in range(len(_COLUMNS)))})",
                *[_encode(c, row[c]) for c in _COLUMNS],
            )
        return rec

    async def update_run(self, run_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown run fields: {sorted(unknown)}")
        sets = ", ".join(f"{k} = ${i + 2}" for i, k in enumerate(fields))
        async with self.db.transaction() as conn:
            changed = await conn.execute(
                f"UPDATE etl_runs SET {sets} WHERE id = $1", run_id, *[_encode(k, v) for k, v in fields.items()]
            )
        if changed == 0:
            raise RunNotFound(f"no run {run_id}")

    async def get_run(self, run_id: str) -> RunRecord:
        async with self.db.read() as conn:
            row = await conn.fetchrow(_SELECT + " WHERE id = $1", run_id)
        if row is None:
            raise RunNotFound(f"no run {run_id}")
        return _record(row)

    async def list_runs(self, job: str | None = None, limit: int = 50, state: str | None = None) -> list[RunRecord]:
        async with self.db.read() as conn:
            rows = await conn.fetch(
                _SELECT + " WHERE (CAST($1 AS TEXT) IS NULL OR job = $1) AND (CAST($2 AS TEXT) IS NULL OR state = $2) "
                "ORDER BY created_at DESC, id DESC LIMIT $3",
                job,
                state,
                limit,
            )
        return [_record(r) for r in rows]

    async def queued(self, limit: int) -> list[str]:
        """Ids of queued runs, oldest first (the SQLite queue's order)."""
        async with self.db.read() as conn:
            rows = await conn.fetch(
                "SELECT id FROM etl_runs WHERE state = 'queued' ORDER BY created_at, id LIMIT $1", limit
            )
        return [str(r["id"]) for r in rows]

    async def requeue(self, run_id: str, states: frozenset[str] = frozenset({"interrupted"})) -> bool:
        """A run in one of `states` back to `queued` (once, whoever asks first); True when this call did it."""
        marks = ", ".join(f"'{state}'" for state in sorted(states & RESUMABLE))
        async with self.db.transaction() as conn:
            changed = await conn.execute(
                "UPDATE etl_runs SET state = 'queued', worker = NULL, cancel_requested = 0, finished_at = NULL "
                f"WHERE id = $1 AND state IN ({marks})",
                run_id,
            )
        return changed == 1

    async def latest_resumable(self, job: str) -> RunRecord | None:
        """The job's newest run, when it can be resumed (failed, cancelled or interrupted)."""
        runs = await self.list_runs(job, limit=1)
        return runs[0] if runs and runs[0].state in RESUMABLE else None

    async def claim(self, run_id: str, worker: str, at: dt.datetime | None = None) -> bool:
        """Moves a queued or interrupted run to `running` for `worker`. False when another run of the same job
        is running (the database's unique index decides, on both engines) or the run is not claimable."""
        try:
            async with self.db.transaction() as conn:
                changed = await conn.execute(
                    "UPDATE etl_runs SET state = 'running', worker = $2, heartbeat_at = $3 "
                    "WHERE id = $1 AND state IN ('queued', 'interrupted') AND cancel_requested = 0",
                    run_id,
                    worker,
                    stamp(at or dt.datetime.now(dt.UTC)),
                )
        except Conflict:
            return False
        return changed == 1

    async def heartbeat(self, run_id: str, worker: str, at: dt.datetime | None = None) -> bool:
        """Refreshes a run's heartbeat; returns whether a cancel was requested. Raises RunStateError when the
        run is no longer this worker's (marked interrupted and claimed by another): the caller must stop."""
        async with self.db.transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE etl_runs SET heartbeat_at = $3 WHERE id = $1 AND worker = $2 AND state = 'running' "
                "RETURNING cancel_requested",
                run_id,
                worker,
                stamp(at or dt.datetime.now(dt.UTC)),
            )
        if row is None:
            raise RunStateError(f"run {run_id} is no longer held by worker {worker}")
        return bool(row["cancel_requested"])

    async def mark_interrupted(self, older_than: dt.timedelta, at: dt.datetime | None = None) -> list[RunRecord]:
        """Running runs whose worker has not heartbeated for `older_than` become `interrupted`; returns them."""
        moment = at or dt.datetime.now(dt.UTC)
        limit = stamp(moment - older_than)
        async with self.db.transaction() as conn:
            rows = await conn.fetch(
                "UPDATE etl_runs SET state = 'interrupted', finished_at = $2, "
                "error = 'its worker ' || COALESCE(worker, '?') || ' stopped heartbeating (last at ' || "
                "COALESCE(heartbeat_at, '?') || ')' "
                "WHERE state = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < $1) RETURNING id",
                limit,
                stamp(moment),
            )
        return [await self.get_run(str(r["id"])) for r in rows]

    async def interrupt_dead_here(self) -> list[RunRecord]:
        """Running runs held by a process of this machine that no longer exists become `interrupted` at once,
        without waiting for the heartbeat timeout (a worker or terminal SIGKILLed here)."""
        found = []
        for record in await self.list_runs(state="running", limit=1000):
            if record.worker and holder_is_dead(record.worker):
                async with self.db.transaction() as conn:
                    changed = await conn.execute(
                        "UPDATE etl_runs SET state = 'interrupted', finished_at = $3, error = $4 "
                        "WHERE id = $1 AND worker = $2 AND state = 'running'",
                        record.id,
                        record.worker,
                        now(),
                        f"its process {record.worker} is gone",
                    )
                if changed:
                    found.append(await self.get_run(record.id))
        return found

    async def request_cancel(self, run_id: str) -> RunRecord:
        """Cancel works on any run: a queued or interrupted one ends now, a running one after its batch."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE etl_runs SET state = 'cancelled', finished_at = $2, error = 'cancelled before it ran', "
                "cancel_requested = 1 WHERE id = $1 AND state IN ('queued', 'interrupted')",
                run_id,
                now(),
            )
            await conn.execute("UPDATE etl_runs SET cancel_requested = 1 WHERE id = $1 AND state = 'running'", run_id)
        return await self.get_run(run_id)

    async def log(self, run_id: str, level: str, message: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO etl_run_log (run_id, at, level, message) VALUES ($1, $2, $3, $4)",
                run_id,
                now(),
                level,
                message,
            )

    async def logs(self, run_id: str, after: int = 0) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = await conn.fetch(
                "SELECT id, at, level, message FROM etl_run_log WHERE run_id = $1 AND id > $2 ORDER BY id",
                run_id,
                after,
            )
        return [dict(r) for r in rows]

    async def close(self) -> None:
        if self._owns_db:
            await self.db.close()


def holder_is_dead(worker: str) -> bool:
    """Whether `worker` (`[prefix:]host:pid`) is a process of this machine that has exited."""
    parts = worker.rsplit(":", 2)
    if len(parts) < 2 or not parts[-1].isdigit() or parts[-2] != socket.gethostname():
        return False
    try:
        os.kill(int(parts[-1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


StateStore = RunStore  # the name the engine's signatures use


def _missing_sqlite(uri: str) -> Path | None:
    parts = urlsplit(uri)
    if parts.scheme != "sqlite":
        return None
    rest = uri[len("sqlite://") :]
    if rest in (":memory:", "/:memory:"):
        return None
    path = Path(rest[1:])
    return None if path.exists() else path


async def open_runs(uri: str | None = None, *, create: bool = True) -> RunStore:
    """The run store in the catalog at `uri` (default $SPLP_CATALOG or sqlite:///var/splp/catalog.db).

    `create=False` (commands that only read or change existing runs) refuses a SQLite file that does not
    exist instead of creating an empty catalog: `status` run from the wrong folder says so."""
    text = uri or default_catalog()
    missing = _missing_sqlite(text)
    if missing is not None and not create:
        raise EtlError(
            f"no catalog at {missing.resolve()} ({text}); run from the folder `make run` uses, or give --catalog "
            f"or ${CATALOG_ENV}"
        )
    db = await open_database(text)
    try:
        await migrate(db)
    except BaseException:
        await db.close()
        raise
    return RunStore(db, owns_db=True)
