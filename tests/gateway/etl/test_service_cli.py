"""The async API (start/get/cancel/preview) and the `etl` CLI subcommands, on SQLite files."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import aiosqlite
import pytest
import yaml

from gateway.etl.cli import add_subcommands
from gateway.etl.errors import JobConfigError, RunNotFound, RunStateError
from gateway.etl.queue import open_queue
from gateway.etl.service import EtlService
from gateway.etl.state import open_runs
from gateway.etl.worker import Worker, WorkerSettings

from .conftest import catalog_uri, wait_run, write_job

N = 500


async def _databases(tmp_path: Path, trigger: bool = False) -> None:
    async with aiosqlite.connect(tmp_path / "src.db") as db:
        await db.execute("CREATE TABLE warga (nik TEXT PRIMARY KEY, nama TEXT NOT NULL, lahir TEXT, rt INTEGER)")
        await db.executemany(
            "INSERT INTO warga VALUES (?, ?, ?, ?)",
            [(f"32{i:014d}", f"  warga   {i} ", f"19{50 + i % 50}-01-0{1 + i % 9}", i % 12) for i in range(N)],
        )
        await db.commit()
    async with aiosqlite.connect(tmp_path / "dst.db") as db:
        await db.execute(
            "CREATE TABLE penduduk (id INTEGER PRIMARY KEY AUTOINCREMENT, nik TEXT NOT NULL UNIQUE, "
            "nama TEXT NOT NULL, lahir DATE, rt INTEGER, kode TEXT)"
        )
        if trigger:  # the target changes what it stores: counts agree, the checksum must not
            await db.execute(
                "CREATE TRIGGER shout AFTER INSERT ON penduduk BEGIN UPDATE penduduk SET nama = "
                "upper(nama) WHERE id = new.id; END"
            )
        await db.commit()


def _job(tmp_path: Path, **extra: object) -> Path:
    return write_job(
        tmp_path,
        {
            "name": "warga",
            "batch_size": 50,
            "connections": {"src": {"kind": "sqlite", "path": "src.db"}, "dst": {"kind": "sqlite", "path": "dst.db"}},
            "params": {"kode": "X"},
            "steps": [
                {
                    "name": "warga",
                    "source": {"connection": "src", "table": "warga"},
                    "target": {"connection": "dst", "table": "penduduk"},
                    "idmap": "id",
                    "transform": "gateway.etl.transforms:strip_strings",
                    "columns": {"kode": {"expr": "${kode} + '-' + str(rt)"}},
                }
            ],
            **extra,
        },
    )


@pytest.fixture
async def service(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The control plane's service and one in-process worker on the same SQLite catalog."""
    store = await open_runs(catalog_uri(tmp_path))
    queue = await open_queue(store, catalog_uri(tmp_path))
    worker = Worker(store, queue, WorkerSettings(heartbeat_seconds=0.2, interrupted_after=2.0), name="test:1")
    serving = asyncio.create_task(worker.serve())
    yield EtlService(store, queue)
    worker.stopping.set()
    await serving
    await store.close()


async def test_start_only_queues_and_a_worker_runs_one_run_of_a_job_at_a_time(
    tmp_path: Path, service: EtlService
) -> None:
    await _databases(tmp_path)
    path = _job(tmp_path)
    first = await service.start_run(path, {"kode": "Y"})
    second = await service.start_run(path)
    assert (await service.get_run(second)).state == "queued"
    done = await wait_run(service.store, first)
    assert done.state == "succeeded", done.error
    assert done.worker == "test:1" and done.heartbeat_at is not None
    assert done.steps["warga"]["written"] == N and done.reconcile["warga"]["match"] is True
    again = await wait_run(service.store, second)
    assert again.state == "succeeded" and again.steps["warga"]["written"] == N
    assert again.started_at is not None and done.finished_at is not None and again.started_at >= done.finished_at
    async with (
        aiosqlite.connect(tmp_path / "dst.db") as db,
        db.execute("SELECT count(*), min(nama), max(kode) FROM penduduk") as cur,
    ):
        # the second run updated the rows of the first through the IDMap; the transform trimmed the names
        assert tuple(await cur.fetchone()) == (N, "warga 0", "X-9")


async def test_cancel_stops_after_the_current_batch_and_resume_continues(tmp_path: Path, service: EtlService) -> None:
    await _databases(tmp_path)
    run_id = await service.start_run(_job(tmp_path, batch_size=1))
    await wait_run(service.store, run_id, states=frozenset({"running"}))
    assert (await service.cancel(run_id)).cancel_requested
    record = await wait_run(service.store, run_id)
    assert record.state == "cancelled" and record.error.startswith(f"run {run_id} cancelled during step warga")
    assert 0 < record.steps["warga"]["written"] < N
    with pytest.raises(RunStateError, match="already ended"):
        await service.cancel(run_id)
    assert (await service.resume(run_id)).state == "queued"
    record = await wait_run(service.store, run_id)
    assert record.state == "succeeded" and record.steps["warga"]["written"] == N and record.attempts == 2
    with pytest.raises(RunStateError, match="only failed, cancelled or interrupted runs resume"):
        await service.resume(run_id)


async def test_a_queued_run_cancels_at_once(tmp_path: Path) -> None:
    store = await open_runs(catalog_uri(tmp_path))
    try:
        service = EtlService(store, await open_queue(store, catalog_uri(tmp_path)))  # no worker
        await _databases(tmp_path)
        run_id = await service.start_run(_job(tmp_path))
        record = await service.cancel(run_id)
        assert record.state == "cancelled" and record.error == "cancelled before it ran"
    finally:
        await store.close()


async def test_checksum_catches_a_target_that_changes_values(tmp_path: Path, service: EtlService) -> None:
    await _databases(tmp_path, trigger=True)
    record = await wait_run(service.store, await service.start_run(_job(tmp_path)))
    rec = record.reconcile["warga"]
    assert record.state == "succeeded"
    assert rec["source_rows"] == rec["target_rows"] == N
    assert rec["source_checksum"] != rec["target_checksum"] and rec["match"] is False


async def test_errors_surface_to_the_caller(tmp_path: Path, service: EtlService) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    with pytest.raises(JobConfigError):
        await service.start_run(bad)
    with pytest.raises(RunNotFound):
        await service.get_run("nope")


async def test_preview_shows_mapping_and_sample(tmp_path: Path, service: EtlService) -> None:
    await _databases(tmp_path)
    result = await service.preview(_job(tmp_path), rows=2)
    step = result["steps"][0]
    assert result["order"] == ["warga"]
    assert [(c["target"], c["origin"]) for c in step["columns"]] == [
        ("nik", "from nik (auto)"),
        ("nama", "from nama (auto)"),
        ("lahir", "from lahir (auto)"),
        ("rt", "from rt (auto)"),
        ("kode", "expr ${kode} + '-' + str(rt)"),
    ]
    assert step["sample"][0] == {
        "nik": "3200000000000000",
        "nama": "warga 0",
        "lahir": __import__("datetime").date(1950, 1, 1),
        "rt": 0,
        "kode": "X-0",
    }
    async with aiosqlite.connect(tmp_path / "dst.db") as db, db.execute("SELECT count(*) FROM penduduk") as cur:
        assert (await cur.fetchone())[0] == 0  # preview never writes


def _cli(*argv: str) -> tuple[argparse.Namespace, int]:
    parser = argparse.ArgumentParser(prog="splp")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args, args.func(args)


def test_cli_run_status_preview(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_databases(tmp_path))
    path = _job(tmp_path)
    state = f"sqlite:///{tmp_path}/cli-catalog.db"
    _, code = _cli("etl", "--catalog", state, "run", str(path), "--param", "kode=Z")
    out = capsys.readouterr()
    assert code == 0, out
    report = json.loads(out.out)
    assert report["state"] == "succeeded" and report["steps"]["warga"]["written"] == N
    run_id = out.err.split()[1]

    _, code = _cli("etl", "--catalog", state, "status", run_id, "--log")
    status = json.loads(capsys.readouterr().out)
    assert code == 0 and status["id"] == run_id and status["params"] == {"kode": "Z"}
    assert any(line["message"].startswith("step warga: read 500, written 500") for line in status["log"])

    _, code = _cli("etl", "--catalog", state, "preview", str(path), "--rows", "1")
    assert code == 0 and json.loads(capsys.readouterr().out)["steps"][0]["sample"][0]["kode"] == "X-0"

    _, code = _cli("etl", "--catalog", state, "run", str(path), "--param", "nope=1")
    assert code == 2
    assert capsys.readouterr().err == "error: job warga: unknown parameter(s) nope; declared: kode\n"

    _, code = _cli("etl", "--catalog", state, "status", "missing")
    assert code == 2 and capsys.readouterr().err == "error: no run missing\n"

    _, code = _cli("etl", "--catalog", state, "run", "--resume", run_id)
    assert code == 2 and capsys.readouterr().err == (
        f"error: run {run_id} is succeeded; only failed, cancelled or interrupted runs resume\n"
    )

    _, code = _cli("etl", "--catalog", state, "resume", str(path))
    assert (
        code == 2
        and capsys.readouterr().err == f"error: job warga: nothing to resume (its latest run {run_id} is succeeded)\n"
    )

    _, code = _cli("etl", "--catalog", state, "runs", "warga")
    table = capsys.readouterr().out
    assert code == 0 and run_id in table and "succeeded" in table and " 500 " in table

    _, code = _cli("etl", "--catalog", state, "logs", run_id)
    assert code == 0 and "step warga: read 500, written 500" in capsys.readouterr().out

    _, code = _cli("etl", "--catalog", state, "cancel", run_id)
    assert code == 2 and capsys.readouterr().err == f"error: run {run_id} already ended (succeeded)\n"

    _, code = _cli("etl", "--catalog", f"sqlite:///{tmp_path}/elsewhere.db", "status", run_id)
    assert code == 2 and "no catalog at" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere.db").exists()


def test_progress_bar_on_a_terminal() -> None:
    import io

    from rich.console import Console

    from gateway.etl.cli import _Bar
    from gateway.etl.runner import StepCounts

    out = io.StringIO()
    with _Bar(True, Console(file=out, force_terminal=True, width=100)) as bar:
        bar.update("warga", StepCounts(read=50, written=48, rejected=2, state="running"))
        bar.update("warga", StepCounts(read=100, written=98, rejected=2, state="succeeded"))
    assert "warga" in out.getvalue() and "read 100 written 98 rejected 2" in out.getvalue()
    with _Bar(False) as quiet:  # not a terminal: nothing is drawn
        quiet.update("warga", StepCounts(read=1))


async def test_preview_before_the_first_run_shows_unmapped_keys_as_new(tmp_path: Path, service: EtlService) -> None:
    await _databases(tmp_path)
    async with aiosqlite.connect(tmp_path / "src.db") as db:
        await db.execute("CREATE TABLE surat (no TEXT PRIMARY KEY, nik TEXT NOT NULL)")
        await db.execute("INSERT INTO surat VALUES ('S-1', '3200000000000007')")
        await db.commit()
    async with aiosqlite.connect(tmp_path / "dst.db") as db:
        await db.execute("CREATE TABLE surat (no TEXT PRIMARY KEY, penduduk_id INTEGER)")
        await db.commit()
    path = _job(tmp_path)
    job = yaml.safe_load(path.read_text())
    job["reconcile"] = False  # what YAML makes of an unquoted `reconcile: off`
    job["steps"].append(
        {
            "name": "surat",
            "source": {"connection": "src", "table": "surat"},
            "target": {"connection": "dst", "table": "surat"},
            "columns": {"penduduk_id": {"from": "nik", "lookup": "warga"}},
        }
    )
    path.write_text(yaml.safe_dump(job))
    assert "reconcile: false" in path.read_text()
    result = await service.preview(path, rows=1)
    surat = next(s for s in result["steps"] if s["name"] == "surat")
    assert surat["sample"] == [{"no": "S-1", "penduduk_id": "new (source key '3200000000000007')"}]
    assert surat["sample_rejected"] == []
    record = await wait_run(service.store, await service.start_run(path))
    assert record.state == "succeeded" and record.reconcile == {}  # reconcile off: accepted, nothing compared
