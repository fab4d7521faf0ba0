"""The run state store, SQLite and PostgreSQL behind one protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from gateway.etl.errors import RunNotFound
from gateway.etl.state import SQLiteStateStore, StateStore, open_store
from gateway.etl.state_pg import PostgresStateStore

from .conftest import pg_database


@asynccontextmanager
async def _store(kind: str, tmp_path: Path) -> AsyncIterator[StateStore]:
    if kind == "sqlite":
        store: StateStore = await open_store(tmp_path / "state.sqlite")
        assert isinstance(store, SQLiteStateStore)
        try:
            yield store
        finally:
            await store.close()
        return
    async with pg_database() as dsn:
        store = await open_store(dsn)
        assert isinstance(store, PostgresStateStore)
        try:
            yield store
        finally:
            await store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_run_record_lifecycle(kind: str, tmp_path: Path) -> None:
    async with _store(kind, tmp_path) as any_store:
        await _lifecycle(any_store)


async def _lifecycle(any_store: StateStore) -> None:
    rec = await any_store.create_run("lapor", "/jobs/lapor.yaml", {"region": "Jabar"})
    assert rec.state == "queued" and rec.attempts == 0
    await any_store.update_run(
        rec.id,
        state="running",
        attempts=1,
        variables={"run_date": "2026-01-01"},
        steps={"complaints": {"read": 10, "written": 9, "rejected": 1}},
    )
    await any_store.log(rec.id, "info", "starting")
    await any_store.log(rec.id, "warning", "rejected: step complaints, key 7: ...")
    got = await any_store.get_run(rec.id)
    assert (got.state, got.attempts, got.params, got.variables) == (
        "running",
        1,
        {"region": "Jabar"},
        {"run_date": "2026-01-01"},
    )
    assert got.steps["complaints"]["written"] == 9
    assert [e["message"] for e in await any_store.logs(rec.id)] == ["starting", "rejected: step complaints, key 7: ..."]
    other = await any_store.create_run("other", "/jobs/other.yaml", {})
    assert [r.id for r in await any_store.list_runs("lapor")] == [rec.id]
    assert {r.id for r in await any_store.list_runs()} == {rec.id, other.id}
    with pytest.raises(RunNotFound, match="no run nope"):
        await any_store.get_run("nope")
    with pytest.raises(RunNotFound):
        await any_store.update_run("nope", state="failed")
    with pytest.raises(ValueError, match="unknown run fields"):
        await any_store.update_run(rec.id, colour="red")
