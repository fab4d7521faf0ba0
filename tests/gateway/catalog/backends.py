"""Catalog store URIs for tests, one per backend: a SQLite file under tmp_path, or a fresh schema in a
PostgreSQL database made for the test module (dropped with it). Shared by the catalog and control tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.services import require_service, unique_name

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _run(coro_factory):  # type: ignore[no-untyped-def]
    """Runs a coroutine on a private loop in a thread: module fixtures live outside the tests' loops."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(coro_factory())).result()


@pytest.fixture(scope="module")
def pg_module_database() -> Iterator[str]:
    """One PostgreSQL database for the whole test module; yields its DSN."""
    host, port = require_service("postgres")
    name = unique_name("catalog")

    async def create() -> None:
        admin = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    async def drop() -> None:
        admin = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    _run(create)
    try:
        yield f"postgresql://postgres@{host}:{port}/{name}"
    finally:
        _run(drop)


@pytest.fixture(params=BACKENDS)
async def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty catalog location on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    dsn: str = request.getfixturevalue("pg_module_database")
    schema = unique_name("s")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        yield f"{dsn}?search_path={schema}"
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await conn.close()
