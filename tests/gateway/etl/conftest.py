"""Per-test databases on the real services (tests/services.py) and small helpers for job files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncmy
import asyncpg
import pytest
import yaml

from gateway.etl.state import ENDED, RunRecord, RunStore, open_runs
from tests.services import require_service, unique_name


@asynccontextmanager
async def pg_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test; dropped afterwards. Yields its DSN."""
    host, port = require_service("postgres")
    name = unique_name("etl_pg")
    admin = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@{host}:{port}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def pg_dsn() -> AsyncIterator[str]:
    async with pg_database() as dsn:
        yield dsn


@pytest.fixture
async def maria() -> AsyncIterator[dict[str, Any]]:
    host, port = require_service("mariadb")
    name = unique_name("etl_my")
    conn = await asyncmy.connect(host=host, port=port, user="root", password="", autocommit=True)
    async with conn.cursor() as cur:
        await cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield {"host": host, "port": port, "user": "root", "password": "", "database": name}
    finally:
        async with conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def catalog_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/catalog.db"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[RunStore]:
    s = await open_runs(catalog_uri(tmp_path))
    yield s
    await s.close()


async def wait_run(store: RunStore, run_id: str, states: frozenset[str] = ENDED) -> RunRecord:
    """Polls a run until it reaches one of `states` (as a control API client does), for at most 60 s."""
    async with asyncio.timeout(60):
        while True:
            record = await store.get_run(run_id)
            if record.state in states:
                return record
            await asyncio.sleep(0.05)


def write_job(directory: Path, job: dict[str, Any], name: str = "job.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(job, sort_keys=False), encoding="utf-8")
    return path


async def maria_exec(params: dict[str, Any], *statements: str, rows: list[tuple[str, list[Any]]] | None = None) -> None:
    conn = await asyncmy.connect(autocommit=True, charset="utf8mb4", **params)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'")
            for s in statements:
                await cur.execute(s)
            for sql, data in rows or []:
                await cur.executemany(sql, data)
    finally:
        conn.close()


async def pg_sql(dsn: str, sql: str, *args: Any) -> Any:
    """Runs one statement on a test database: rows as tuples for a SELECT, else the status."""
    conn = await asyncpg.connect(dsn)
    try:
        if sql.lstrip().upper().startswith("SELECT"):
            return [tuple(r) for r in await conn.fetch(sql, *args)]
        return await conn.execute(sql, *args)
    finally:
        await conn.close()


async def slow_warga_job(tmp_path: Path, maria: dict[str, Any], dsn: str, rows: int, batch_size: int) -> Path:
    """A MariaDB table of `rows` people upserted into PostgreSQL, slowed per batch (tests/gateway/etl/slow.py),
    so a test can act in the middle of a run."""
    await maria_exec(
        maria,
        "CREATE TABLE warga (id INT PRIMARY KEY, nama VARCHAR(40) NOT NULL)",
        rows=[("INSERT INTO warga VALUES (%s, %s)", [(i, f"warga {i}") for i in range(1, rows + 1)])],
    )
    await pg_sql(dsn, "CREATE TABLE penduduk (id integer PRIMARY KEY, nama text NOT NULL)")
    step = {
        "name": "warga",
        "source": {"connection": "src", "table": "warga"},
        "target": {"connection": "dst", "table": "penduduk"},
        "mode": "upsert",
        "key": ["id"],
        "transform_batch": "tests.gateway.etl.slow:pause",
    }
    connections = {"src": {"kind": "mysql", **maria}, "dst": {"kind": "postgres", "dsn": dsn}}
    return write_job(tmp_path, {"name": "warga", "batch_size": batch_size, "connections": connections, "steps": [step]})


@asynccontextmanager
async def run_store(kind: str, tmp_path: Path) -> AsyncIterator[tuple[RunStore, str]]:
    """A run store (and its catalog URI) on a SQLite file or a fresh PostgreSQL database."""
    if kind == "sqlite":
        store = await open_runs(catalog_uri(tmp_path))
        try:
            yield store, catalog_uri(tmp_path)
        finally:
            await store.close()
        return
    async with pg_database() as dsn:
        store = await open_runs(dsn)
        try:
            yield store, dsn
        finally:
            await store.close()
