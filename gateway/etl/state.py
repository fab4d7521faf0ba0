"""Run records: state, per-step counts, timings, reconciliation and a log, behind a small store interface.

SQLiteStateStore is the embedded default (one file, WAL); PostgresStateStore (state_pg.py) is the cluster
store. open_store() picks one from a DSN or a path; nothing else in the ETL package touches their tables.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from typing import Any, Literal, Protocol

import aiosqlite
import orjson
from pydantic import BaseModel, ConfigDict, Field

from .errors import RunNotFound

RunState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
DEFAULT_STATE_PATH = "var/etl/state.sqlite"


def default_state_path() -> str:
    return os.environ.get("SPLP_ETL_STATE", DEFAULT_STATE_PATH)


class RunRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="run id")
    job: str = Field(description="job name")
    job_file: str = Field(description="path of the job file the run was started from")
    params: dict[str, Any] = Field(default_factory=dict, description="parameters given to the run")
    variables: dict[str, Any] = Field(default_factory=dict, description="variables fixed at the first start")
    state: RunState = Field(description="queued, running, succeeded, failed or cancelled")
    created_at: str = Field(description="ISO time the run was queued")
    started_at: str | None = Field(None, description="ISO time the (last) attempt started")
    finished_at: str | None = Field(None, description="ISO time the run ended")
    error: str | None = Field(None, description="why the run failed")
    steps: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per step: counts and timings")
    reconcile: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per step: counts, checksums")
    attempts: int = Field(0, description="how many times the run was started (1 + resumes)")


class StateStore(Protocol):
    async def create_run(self, job: str, job_file: str, params: dict[str, Any]) -> RunRecord: ...

    async def update_run(self, run_id: str, **fields: Any) -> None: ...

    async def get_run(self, run_id: str) -> RunRecord: ...

    async def list_runs(self, job: str | None = None, limit: int = 50) -> list[RunRecord]: ...

    async def log(self, run_id: str, level: str, message: str) -> None: ...

    async def logs(self, run_id: str) -> list[dict[str, str]]: ...

    async def close(self) -> None: ...


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4)


_JSON_FIELDS = ("params", "variables", "steps", "reconcile")
_COLUMNS = (
    "id",
    "job",
    "job_file",
    "params",
    "variables",
    "state",
    "created_at",
    "started_at",
    "finished_at",
    "error",
    "steps",
    "reconcile",
    "attempts",
)


class SQLiteStateStore:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    @classmethod
    async def open(cls, path: str | os.PathLike[str] | None = None) -> SQLiteStateStore:
        p = Path(path or default_state_path())
        p.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(p, isolation_level=None, timeout=30)
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS etl_runs (id TEXT PRIMARY KEY, job TEXT NOT NULL, job_file TEXT NOT NULL,
               params TEXT NOT NULL, variables TEXT NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL,
               started_at TEXT, finished_at TEXT, error TEXT, steps TEXT NOT NULL, reconcile TEXT NOT NULL,
               attempts INTEGER NOT NULL DEFAULT 0)"""
        )
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS etl_run_log (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, at TEXT NOT NULL,
               level TEXT NOT NULL, message TEXT NOT NULL)"""
        )
        await conn.execute("CREATE INDEX IF NOT EXISTS etl_run_log_run ON etl_run_log (run_id, id)")
        return cls(conn)

    async def create_run(self, job: str, job_file: str, params: dict[str, Any]) -> RunRecord:
        rec = RunRecord(id=new_run_id(), job=job, job_file=job_file, params=params, state="queued", created_at=now())
        row = rec.model_dump()
        await self._conn.execute(
            f"INSERT INTO etl_runs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
            [orjson.dumps(row[c]).decode() if c in _JSON_FIELDS else row[c] for c in _COLUMNS],
        )
        return rec

    async def update_run(self, run_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown run fields: {sorted(unknown)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        vals = [orjson.dumps(v, default=str).decode() if k in _JSON_FIELDS else v for k, v in fields.items()]
        cur = await self._conn.execute(f"UPDATE etl_runs SET {sets} WHERE id = ?", [*vals, run_id])
        if cur.rowcount == 0:
            raise RunNotFound(f"no run {run_id}")

    def _record(self, row: Any) -> RunRecord:
        data = dict(zip(_COLUMNS, row, strict=True))
        for k in _JSON_FIELDS:
            data[k] = orjson.loads(data[k])
        return RunRecord.model_validate(data)

    async def get_run(self, run_id: str) -> RunRecord:
        async with self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM etl_runs WHERE id = ?", (run_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            raise RunNotFound(f"no run {run_id}")
        return self._record(row)

    async def list_runs(self, job: str | None = None, limit: int = 50) -> list[RunRecord]:
        sql = f"SELECT {', '.join(_COLUMNS)} FROM etl_runs"
        args: list[Any] = []
        if job:
            sql += " WHERE job = ?"
            args.append(job)
        sql += " ORDER BY created_at DESC LIMIT ?"
        async with self._conn.execute(sql, [*args, limit]) as cur:
            return [self._record(r) for r in await cur.fetchall()]

    async def log(self, run_id: str, level: str, message: str) -> None:
        await self._conn.execute(
            "INSERT INTO etl_run_log (run_id, at, level, message) VALUES (?, ?, ?, ?)", (run_id, now(), level, message)
        )

    async def logs(self, run_id: str) -> list[dict[str, str]]:
        async with self._conn.execute(
            "SELECT at, level, message FROM etl_run_log WHERE run_id = ? ORDER BY id", (run_id,)
        ) as cur:
            return [{"at": r[0], "level": r[1], "message": r[2]} for r in await cur.fetchall()]

    async def close(self) -> None:
        await self._conn.close()


async def open_store(location: str | os.PathLike[str] | None = None) -> StateStore:
    """A PostgreSQL DSN opens the PostgreSQL store; anything else is a SQLite file path."""
    text = str(location or default_state_path())
    if text.startswith(("postgresql://", "postgres://")):
        from .state_pg import PostgresStateStore

        return await PostgresStateStore.open(text)
    return await SQLiteStateStore.open(text)
