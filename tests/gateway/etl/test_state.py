"""Run records in the catalog database (migration 11), on SQLite and PostgreSQL through the catalog's DB layer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gateway.catalog.migrate import applied_versions
from gateway.etl.errors import EtlError, RunNotFound, RunStateError
from gateway.etl.state import open_runs

from .conftest import run_store


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_run_record_lifecycle(kind: str, tmp_path: Path) -> None:
    async with run_store(kind, tmp_path) as (store, _):
        assert 11 in await applied_versions(store.db)  # the catalog's own migrations created the tables
        rec = await store.create_run("lapor", "/jobs/lapor.yaml", {"region": "Jabar"})
        assert rec.state == "queued" and rec.attempts == 0
        await store.update_run(
            rec.id, attempts=1, variables={"run_date": "2026-01-01"}, steps={"complaints": {"read": 10, "written": 9}}
        )
        await store.log(rec.id, "info", "starting")
        await store.log(rec.id, "warning", "rejected: step complaints, key 7: ...")
        got = await store.get_run(rec.id)
        assert (got.state, got.attempts, got.params, got.variables) == (
            "queued",
            1,
            {"region": "Jabar"},
            {"run_date": "2026-01-01"},
        )
        assert got.steps["complaints"]["written"] == 9
        logs = await store.logs(rec.id)
        assert [e["message"] for e in logs] == ["starting", "rejected: step complaints, key 7: ..."]
        assert [e["message"] for e in await store.logs(rec.id, after=logs[0]["id"])] == [logs[1]["message"]]
        other = await store.create_run("other", "/jobs/other.yaml", {})
        assert [r.id for r in await store.list_runs("lapor")] == [rec.id]
        assert {r.id for r in await store.list_runs()} == {rec.id, other.id}
        assert await store.queued(10) == [rec.id, other.id]  # oldest first
        with pytest.raises(RunNotFound, match="no run nope"):
            await store.get_run("nope")
        with pytest.raises(RunNotFound):
            await store.update_run("nope", state="failed")
        with pytest.raises(ValueError, match="unknown run fields"):
            await store.update_run(rec.id, colour="red")


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_one_running_run_per_job_and_heartbeat_liveness(kind: str, tmp_path: Path) -> None:
    async with run_store(kind, tmp_path) as (store, _):
        first = await store.create_run("lapor", "/jobs/lapor.yaml", {})
        second = await store.create_run("lapor", "/jobs/lapor.yaml", {})
        other = await store.create_run("other", "/jobs/other.yaml", {})
        t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        assert await store.claim(first.id, "host-a:1", t0) is True
        assert await store.claim(first.id, "host-b:2", t0) is False  # already taken
        assert await store.claim(second.id, "host-b:2", t0) is False  # the job is running elsewhere
        assert await store.claim(other.id, "host-b:2", t0) is True  # another job: fine
        assert await store.heartbeat(first.id, "host-a:1", t0 + dt.timedelta(seconds=20)) is False
        # at t0+45 the other run (no heartbeat since t0) is stale, the first (beat at t0+20) is not yet
        stale = await store.mark_interrupted(dt.timedelta(seconds=30), t0 + dt.timedelta(seconds=45))
        assert [r.id for r in stale] == [other.id]
        interrupted = await store.mark_interrupted(dt.timedelta(seconds=30), t0 + dt.timedelta(seconds=51))
        assert [r.id for r in interrupted] == [first.id]
        assert interrupted[0].state == "interrupted" and "host-a:1 stopped heartbeating" in (interrupted[0].error or "")
        with pytest.raises(RunStateError, match="no longer held"):
            await store.heartbeat(first.id, "host-a:1")  # the dead worker, back: it must stop
        assert await store.claim(second.id, "host-b:2", t0) is True  # the job is free again
        assert await store.requeue(first.id) is True and await store.requeue(first.id) is False  # once
        # cancel works on any run: queued now, running after its batch (the heartbeat tells the worker)
        assert (await store.request_cancel(first.id)).state == "cancelled"
        running = await store.request_cancel(second.id)
        assert running.state == "running" and running.cancel_requested
        assert await store.heartbeat(second.id, "host-b:2") is True


async def test_a_missing_sqlite_catalog_is_refused_by_readers(tmp_path: Path) -> None:
    with pytest.raises(EtlError, match="no catalog at .*nowhere.db"):
        await open_runs(f"sqlite:///{tmp_path}/nowhere.db", create=False)
    assert not (tmp_path / "nowhere.db").exists()
