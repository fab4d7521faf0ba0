"""Konsolidasi Data through the control API: real job files in a jobs folder, real SQLite databases, run
records in the catalog executed by an ETL worker; tenant scope (404 outside it), roles (403), unsafe names,
invalid jobs, cancel/resume.

Tenants and users as in conftest.py: a_admin and a_aud belong to bappenas, u_admin to its unit
bappenas-pusdatin, b_admin to kemenkes, root is super admin.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import aiosqlite
import asyncpg
import orjson
import pytest
import yaml
from aiohttp import web

from gateway.control.app import create_control_app
from gateway.etl import webhooks
from gateway.etl.queue import open_queue
from gateway.etl.state import open_runs
from gateway.etl.worker import Worker, WorkerSettings
from tests.gateway.control.conftest import FAST, Control, loaded_config, seed
from tests.gateway.etl.conftest import pg_database
from tests.servers import serve

N = 40  # people in the CSV
SLOW_ROWS = 2000  # rows of the SQLite -> SQLite job cancelled mid-way (batch size 1)


@pytest.fixture
async def etl(tmp_path: Path) -> AsyncIterator[Control]:
    uri = f"sqlite:///{tmp_path / 'catalog.db'}"
    tenants, users = await seed(uri)
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    key_path = tmp_path / "keys" / "control.pem"
    app = create_control_app(
        loaded_config(),
        catalog_uri=uri,
        key_path=str(key_path),
        hasher=FAST,
        etl_jobs_dir=jobs,
    )
    # an ETL worker on the same catalog (in this test's loop; tests/gateway/etl/test_workers.py runs real
    # worker processes): the control API only queues
    store = await open_runs(uri)
    worker = Worker(
        store, await open_queue(store, uri), WorkerSettings(heartbeat_seconds=0.2, jobs_dir=str(jobs)), name="test:1"
    )
    serving = asyncio.create_task(worker.serve())
    try:
        async with serve(app) as port, aiohttp.ClientSession() as http:
            yield Control(f"http://127.0.0.1:{port}/api/v1", http, tenants, users, key_path)
    finally:
        worker.stopping.set()
        await serving
        await store.close()


def write(tmp_path: Path, name: str, job: dict[str, Any]) -> Path:
    path = tmp_path / "jobs" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(job, sort_keys=False), encoding="utf-8")
    return path


async def csv_job(tmp_path: Path, name: str = "warga", tenant: str | None = "bappenas") -> None:
    jobs = tmp_path / "jobs"
    (jobs / f"{name}.csv").write_text(
        "id,nama,umur\n" + "".join(f"{i},Warga {i},{20 + i}\n" for i in range(1, N + 1)), encoding="utf-8"
    )
    async with aiosqlite.connect(jobs / f"{name}.db") as db:
        await db.execute("CREATE TABLE penduduk (id INTEGER PRIMARY KEY, nama TEXT NOT NULL, umur INTEGER, asal TEXT)")
        await db.commit()
    job: dict[str, Any] = {
        "name": name,
        "description": "Data warga dari CSV",
        "connections": {"out": {"kind": "sqlite", "path": f"{name}.db"}},
        "params": {"asal": "csv"},
        "batch_size": 7,
        "steps": [
            {
                "name": "penduduk",
                "source": {"file": f"{name}.csv", "format": "csv", "key": ["id"]},
                "target": {"connection": "out", "table": "penduduk"},
                "mode": "upsert",
                "key": ["id"],
                "columns": {"asal": {"const": "${asal}"}},
            }
        ],
    }
    if tenant is not None:
        job["tenant"] = tenant
    write(tmp_path, name, job)


async def slow_job(tmp_path: Path, name: str = "lambat") -> None:
    jobs = tmp_path / "jobs"
    async with aiosqlite.connect(jobs / "src.db") as db:
        await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        await db.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(SLOW_ROWS)])
        await db.commit()
    async with aiosqlite.connect(jobs / "dst.db") as db:
        await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        await db.commit()
    write(
        tmp_path,
        name,
        {
            "name": name,
            "tenant": "bappenas",
            "batch_size": 1,
            "connections": {"src": {"kind": "sqlite", "path": "src.db"}, "dst": {"kind": "sqlite", "path": "dst.db"}},
            "steps": [
                {
                    "name": "t",
                    "source": {"connection": "src", "table": "t"},
                    "target": {"connection": "dst", "table": "t"},
                }
            ],
        },
    )


async def poll(control: Control, run_id: str, user: str, states: set[str], seconds: float = 30) -> dict[str, Any]:
    async with asyncio.timeout(seconds):
        while True:
            status, run = await control.call("GET", f"/etl/runs/{run_id}", as_user=user)
            assert status == 200, run
            if run["state"] in states:
                return run  # type: ignore[no-any-return]
            await asyncio.sleep(0.02)


async def test_tenant_admin_runs_a_job_to_success(etl: Control, tmp_path: Path) -> None:
    await csv_job(tmp_path)
    status, jobs = await etl.call("GET", "/etl/jobs", as_user="a_admin")
    assert status == 200
    assert jobs["items"] == [
        {
            "name": "warga",
            "job": "warga",
            "description": "Data warga dari CSV",
            "tenant": "bappenas",
            "steps": ["penduduk"],
            "valid": True,
            "errors": [],
        }
    ]
    status, job = await etl.call("GET", "/etl/jobs/warga", as_user="a_admin")
    assert status == 200 and job["file"] == "warga.yaml" and job["connections"] == {"out": "sqlite"}
    assert job["step_details"] == [
        {"name": "penduduk", "source": "warga.csv (csv)", "target": "out.penduduk", "mode": "upsert"}
    ]

    status, preview = await etl.call("POST", "/etl/jobs/warga/preview", as_user="a_admin", json={"rows": 3})
    assert status == 200, preview
    sample = preview["steps"][0]["sample"]
    assert preview["order"] == ["penduduk"] and len(sample) == 3
    assert sample[0] == {"id": 1, "nama": "Warga 1", "umur": 21, "asal": "csv"}
    status, problem = await etl.call("POST", "/etl/jobs/warga/preview", as_user="a_admin", json={"rows": 10_000})
    assert status == 422 and problem["errors"][0]["loc"] == ["body", "rows"]

    async with etl.http.post(
        etl.base + "/etl/jobs/warga/runs",
        json={"params": {"asal": "api"}},
        headers={"authorization": f"Bearer {await etl.token('a_admin')}"},
    ) as response:
        started = await response.json()
        assert response.status == 202, started
        assert started["state"] == "queued"
        assert response.headers["location"] == f"/api/v1/etl/runs/{started['run_id']}"
    run = await poll(etl, started["run_id"], "a_admin", {"succeeded", "failed", "cancelled"})
    assert run["state"] == "succeeded", run["error"]
    assert (run["job"], run["tenant"], run["params"], run["attempts"]) == ("warga", "bappenas", {"asal": "api"}, 1)
    counts = run["steps"]["penduduk"]
    assert (counts["read"], counts["written"], counts["rejected"]) == (N, N, 0)
    assert run["reconcile"]["penduduk"]["match"] is True
    assert run["started_at"] and run["finished_at"]
    async with (
        aiosqlite.connect(tmp_path / "jobs" / "warga.db") as db,
        db.execute("SELECT count(*), min(asal), max(asal) FROM penduduk") as cur,
    ):
        assert tuple(await cur.fetchone()) == (N, "api", "api")  # type: ignore[arg-type]

    status, logs = await etl.call("GET", f"/etl/runs/{run['id']}/logs", as_user="a_admin")
    assert status == 200 and logs["run_id"] == run["id"] and logs["items"]
    assert {"at", "level", "message"} <= set(logs["items"][0])

    status, runs = await etl.call("GET", "/etl/runs?job=warga&state=succeeded", as_user="a_admin")
    assert status == 200 and [r["id"] for r in runs["items"]] == [run["id"]]
    assert (await etl.call("GET", "/etl/runs?state=failed", as_user="a_admin"))[1]["items"] == []
    assert (await etl.call("GET", "/etl/runs?state=done", as_user="a_admin"))[0] == 422
    # the ministry's unit admin does not see its ministry's job; the super admin sees everything
    assert (await etl.call("GET", f"/etl/runs/{run['id']}", as_user="u_admin"))[0] == 404
    assert (await etl.call("GET", f"/etl/runs/{run['id']}", as_user="root"))[0] == 200
    # a finished run cannot be cancelled nor resumed
    assert (await etl.call("POST", f"/etl/runs/{run['id']}/cancel", as_user="a_admin"))[0] == 409
    assert (await etl.call("POST", f"/etl/runs/{run['id']}/resume", as_user="a_admin"))[0] == 409


async def test_other_tenants_get_404_and_auditors_only_read(etl: Control, tmp_path: Path) -> None:
    await csv_job(tmp_path)
    await csv_job(tmp_path, "pusat", tenant=None)  # no tenant: super admins only
    status, started = await etl.call("POST", "/etl/jobs/warga/runs", as_user="a_admin", json={})
    assert status == 202, started
    run_id = started["run_id"]
    await poll(etl, run_id, "a_admin", {"succeeded"})

    # another tenant's admin: the job and the run do not exist for them
    for method, path in [
        ("GET", "/etl/jobs/warga"),
        ("POST", "/etl/jobs/warga/preview"),
        ("POST", "/etl/jobs/warga/runs"),
        ("GET", f"/etl/runs/{run_id}"),
        ("GET", f"/etl/runs/{run_id}/logs"),
        ("POST", f"/etl/runs/{run_id}/cancel"),
        ("POST", f"/etl/runs/{run_id}/resume"),
    ]:
        kwargs: dict[str, Any] = {"json": {}} if path.endswith(("preview", "runs")) else {}
        status, problem = await etl.call(method, path, as_user="b_admin", **kwargs)
        assert status == 404, (method, path, problem)
        assert problem["code"] == 801404
    assert (await etl.call("GET", "/etl/jobs", as_user="b_admin"))[1]["items"] == []
    assert (await etl.call("GET", "/etl/runs", as_user="b_admin"))[1]["items"] == []
    # a job without a tenant: super admins only
    assert (await etl.call("GET", "/etl/jobs/pusat", as_user="a_admin"))[0] == 404
    status, listing = await etl.call("GET", "/etl/jobs", as_user="root")
    assert [j["name"] for j in listing["items"]] == ["pusat", "warga"]

    # the auditor of the tenant reads jobs, runs and logs, and may not start, preview, cancel or resume
    assert (await etl.call("GET", "/etl/jobs/warga", as_user="a_aud"))[0] == 200
    assert (await etl.call("GET", f"/etl/runs/{run_id}", as_user="a_aud"))[1]["state"] == "succeeded"
    assert (await etl.call("GET", f"/etl/runs/{run_id}/logs", as_user="a_aud"))[0] == 200
    assert [r["id"] for r in (await etl.call("GET", "/etl/runs", as_user="a_aud"))[1]["items"]] == [run_id]
    status, problem = await etl.call("POST", "/etl/jobs/warga/runs", as_user="a_aud", json={})
    assert status == 403 and problem["code"] == 801403
    assert (await etl.call("POST", "/etl/jobs/warga/preview", as_user="a_aud", json={}))[0] == 403
    assert (await etl.call("POST", f"/etl/runs/{run_id}/cancel", as_user="a_aud"))[0] == 403
    assert (await etl.call("POST", f"/etl/runs/{run_id}/resume", as_user="a_aud"))[0] == 403
    # publishers and subscribers: not ETL roles; nobody signed in: 401
    assert (await etl.call("GET", "/etl/jobs", as_user="a_pub"))[0] == 403
    assert (await etl.call("GET", f"/etl/runs/{run_id}", as_user="a_dev"))[0] == 403
    assert (await etl.call("GET", "/etl/jobs"))[0] == 401
    # unknown job and run: 404 problem+json
    status, problem = await etl.call("GET", "/etl/jobs/nope", as_user="root")
    assert status == 404 and problem["type"].endswith("not-found")
    assert (await etl.call("GET", "/etl/runs/nope", as_user="root"))[0] == 404


async def test_unsafe_job_names_are_refused(etl: Control, tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_text("name: secret\ntenant: bappenas\n", encoding="utf-8")  # outside jobs/
    for name in ["%2E%2E", "..secret", ".hidden", "se%20cret", "se~cret", "%2E%2E%2Fsecret", "..%2Fsecret"]:
        status, problem = await etl.call("GET", f"/etl/jobs/{name}", as_user="root")
        assert status in (404, 422), (name, status)
        assert "secret" not in str(problem.get("name", "")) and problem.get("file") is None
        if status == 422:
            assert problem["errors"][0]["loc"] == ["path", "name"]
    for name in ("..secret", ".hidden", "se~cret", "se%20cret"):  # reach the route, refused by the name rule
        assert (await etl.call("GET", f"/etl/jobs/{name}", as_user="root"))[0] == 422, name
    assert (await etl.call("POST", "/etl/jobs/..secret/runs", as_user="root", json={}))[0] == 422
    # a symlink in the jobs folder that leads out of it is not a job
    (tmp_path / "jobs" / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    assert (await etl.call("GET", "/etl/jobs/link", as_user="root"))[0] == 422
    assert (await etl.call("GET", "/etl/jobs", as_user="root"))[1]["items"] == []


async def test_invalid_job_answers_422_with_the_loaders_message(etl: Control, tmp_path: Path) -> None:
    write(
        tmp_path,
        "rusak",
        {
            "name": "rusak",
            "tenant": "bappenas",
            "connections": {"out": {"kind": "sqlite", "path": "out.db"}},
            "steps": [
                {
                    "name": "s",
                    "source": {"file": "x.csv", "format": "csv"},
                    "target": {"connection": "out", "table": "t"},
                    "mode": "sideways",
                }
            ],
        },
    )
    status, listing = await etl.call("GET", "/etl/jobs", as_user="a_admin")
    assert status == 200 and listing["items"][0]["valid"] is False
    assert listing["items"][0]["errors"][0].startswith("steps[0].mode: 'sideways': ")
    status, job = await etl.call("GET", "/etl/jobs/rusak", as_user="a_admin")
    assert status == 200 and job["valid"] is False and job["message"].startswith("rusak.yaml: 1 error")
    for path in ("/etl/jobs/rusak/runs", "/etl/jobs/rusak/preview"):
        status, problem = await etl.call("POST", path, as_user="a_admin", json={})
        assert status == 422, problem
        assert problem["detail"].startswith("rusak.yaml: 1 error") and "steps[0].mode" in problem["detail"]
        assert str(tmp_path) not in problem["detail"]  # the host path stays private
        assert problem["errors"][0]["loc"] == ["job", "rusak.yaml", "steps[0].mode"]
        assert (
            problem["errors"][0]["msg"] == "'sideways': Input should be 'append', 'upsert', 'replace' or 'incremental'"
        )
    # an unknown parameter is refused before a run exists
    await csv_job(tmp_path)
    status, problem = await etl.call("POST", "/etl/jobs/warga/runs", as_user="a_admin", json={"params": {"x": 1}})
    assert status == 422 and "unknown parameter(s) x" in problem["detail"]
    assert (await etl.call("GET", "/etl/runs", as_user="root"))[1]["items"] == []


async def test_cancel_then_resume(etl: Control, tmp_path: Path) -> None:
    await slow_job(tmp_path)
    status, started = await etl.call("POST", "/etl/jobs/lambat/runs", as_user="a_admin", json={})
    assert status == 202, started
    run_id = started["run_id"]
    await poll(etl, run_id, "a_admin", {"running"})
    status, accepted = await etl.call("POST", f"/etl/runs/{run_id}/cancel", as_user="a_admin")
    assert status == 202 and accepted["run_id"] == run_id
    run = await poll(etl, run_id, "a_admin", {"cancelled", "succeeded", "failed"})
    assert run["state"] == "cancelled" and run["error"].startswith(f"run {run_id} cancelled")
    assert run["steps"].get("t", {}).get("written", 0) < SLOW_ROWS
    status, page = await etl.call("GET", "/etl/runs?state=cancelled", as_user="a_aud")
    assert [r["id"] for r in page["items"]] == [run_id]

    status, resumed = await etl.call("POST", f"/etl/runs/{run_id}/resume", as_user="a_admin")
    assert status == 202 and resumed["run_id"] == run_id
    run = await poll(etl, run_id, "a_admin", {"succeeded", "failed"}, seconds=60)
    assert run["state"] == "succeeded", run["error"]
    assert run["attempts"] == 2 and run["steps"]["t"]["written"] == SLOW_ROWS
    async with aiosqlite.connect(tmp_path / "jobs" / "dst.db") as db, db.execute("SELECT count(*) FROM t") as cur:
        assert (await cur.fetchone())[0] == SLOW_ROWS  # type: ignore[index]


def test_etl_routes_are_in_the_openapi_document() -> None:
    document = create_control_app(loaded_config()).state.openapi
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert {
        ("GET", "/api/v1/etl/jobs"),
        ("GET", "/api/v1/etl/jobs/{name}"),
        ("POST", "/api/v1/etl/jobs/{name}/preview"),
        ("POST", "/api/v1/etl/jobs/{name}/runs"),
        ("GET", "/api/v1/etl/runs"),
        ("GET", "/api/v1/etl/runs/{id}"),
        ("GET", "/api/v1/etl/runs/{id}/logs"),
        ("POST", "/api/v1/etl/runs/{id}/cancel"),
        ("POST", "/api/v1/etl/runs/{id}/resume"),
    } <= documented
    start = document["paths"]["/api/v1/etl/jobs/{name}/runs"]["post"]
    assert "202" in start["responses"] and "422" in start["responses"] and "404" in start["responses"]
    assert {p["name"] for p in document["paths"]["/api/v1/etl/runs"]["get"]["parameters"]} == {
        "job",
        "state",
        "limit",
        "offset",
    }


HOOK_SECRET = "s3cret-for-the-webhook-test"


async def test_signed_webhook_starts_a_run_and_refuses_bad_stale_replayed_and_large(
    etl: Control, tmp_path: Path
) -> None:
    await csv_job(tmp_path)
    job = yaml.safe_load((tmp_path / "jobs" / "warga.yaml").read_text())
    job["webhook"] = {"token": "warga-hook-token-0123", "secret": HOOK_SECRET, "params": ["asal"]}
    write(tmp_path, "warga", job)
    url = "/etl/hooks/warga-hook-token-0123"
    body = orjson.dumps({"params": {"asal": "webhook"}})
    signed = {"content-type": "application/json", **webhooks.signed_headers(HOOK_SECRET, body)}
    status, accepted = await etl.call("POST", url, data=body, headers=signed)
    assert status == 202, accepted
    run = await poll(etl, accepted["run_id"], "a_admin", {"succeeded", "failed"})
    assert run["state"] == "succeeded" and run["params"] == {"asal": "webhook"}

    status, problem = await etl.call("POST", url, data=body, headers=signed)  # the same request again
    assert (status, problem["code"], problem["type"]) == (409, 801433, "urn:splp:problem:webhook-replayed")
    tampered = orjson.dumps({"params": {"asal": "other"}})
    status, problem = await etl.call("POST", url, data=tampered, headers=signed)
    assert (status, problem["code"]) == (401, 801431)
    stale = webhooks.signed_headers(HOOK_SECRET, body, now=time.time() - 3600)
    status, problem = await etl.call("POST", url, data=body, headers=stale)
    assert (status, problem["code"]) == (401, 801432)
    status, problem = await etl.call("POST", url, data=body, headers={"content-type": "application/json"})
    assert (status, problem["code"]) == (401, 801431)
    big = b" " * (webhooks.MAX_BODY + 1)
    status, problem = await etl.call("POST", url, data=big, headers=webhooks.signed_headers(HOOK_SECRET, big))
    assert status == 413
    status, _ = await etl.call("POST", "/etl/hooks/no-such-token-000000", data=body, headers=signed)
    assert status == 404
    other = orjson.dumps({"params": {"x": 1}})
    status, problem = await etl.call("POST", url, data=other, headers=webhooks.signed_headers(HOOK_SECRET, other))
    assert status == 422 and problem["errors"][0]["loc"] == ["body", "params", "x"]


async def test_chained_job_and_signed_run_end_webhook_with_retries(etl: Control, tmp_path: Path) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=503 if len(received) == 1 else 204)  # the first delivery fails

    app = web.Application()
    app.router.add_post("/selesai", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        await csv_job(tmp_path, "induk")
        await csv_job(tmp_path, "anak")
        parent = yaml.safe_load((tmp_path / "jobs" / "induk.yaml").read_text())
        parent["notify"] = [{"url": f"http://127.0.0.1:{port}/selesai", "secret": HOOK_SECRET}]
        write(tmp_path, "induk", parent)
        child = yaml.safe_load((tmp_path / "jobs" / "anak.yaml").read_text())
        child["after"] = ["induk"]
        write(tmp_path, "anak", child)
        status, started = await etl.call("POST", "/etl/jobs/induk/runs", as_user="a_admin", json={})
        assert status == 202
        await poll(etl, started["run_id"], "a_admin", {"succeeded"})
        async with asyncio.timeout(30):
            while True:
                _, page = await etl.call("GET", "/etl/runs?job=anak", as_user="a_admin")
                if page["items"] and page["items"][0]["state"] == "succeeded":
                    break
                await asyncio.sleep(0.05)
        assert len(received) == 2  # retried after the 503
        headers, raw = received[-1]
        assert webhooks.check_signature(HOOK_SECRET, {k.lower(): v for k, v in headers.items()}, raw)
        event = orjson.loads(raw)
        assert (event["event"], event["job"], event["run_id"], event["state"]) == (
            "etl.run.ended",
            "induk",
            started["run_id"],
            "succeeded",
        )
    finally:
        await runner.cleanup()


@pytest.fixture
async def target_dsn() -> AsyncIterator[str]:
    async with pg_database() as dsn:
        yield dsn


async def test_registered_connection_is_sealed_never_shown_and_used_by_the_worker(
    etl: Control, tmp_path: Path, target_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPLP_MASTER_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))
    async with asyncpg_connect(target_dsn) as conn:
        await conn.execute(
            "CREATE TABLE penduduk (id integer PRIMARY KEY, nama text NOT NULL, umur integer, asal text)"
        )
    await csv_job(tmp_path)
    job = yaml.safe_load((tmp_path / "jobs" / "warga.yaml").read_text())
    job["connections"] = {"out": {"kind": "catalog", "name": "kependudukan"}}
    write(tmp_path, "warga", job)
    connection = {"kind": "postgres", "dsn": target_dsn}
    status, _ = await etl.call(
        "POST", "/etl/connections", as_user="a_admin", json={"name": "kependudukan", "connection": connection}
    )
    assert status == 403  # super admins only
    status, created = await etl.call(
        "POST", "/etl/connections", as_user="root", json={"name": "kependudukan", "connection": connection}
    )
    assert status == 200 and created["name"] == "kependudukan" and created["kind"] == "postgres"
    status, page = await etl.call("GET", "/etl/connections", as_user="root")
    assert [c["name"] for c in page["items"]] == ["kependudukan"] and target_dsn not in str(page)
    async with (
        aiosqlite.connect(tmp_path / "catalog.db") as db,
        db.execute("SELECT sealed FROM etl_connections") as cur,
    ):
        sealed = (await cur.fetchone())[0]  # type: ignore[index]
    assert sealed.startswith("sealed:v1:") and "postgresql" not in sealed
    status, problem = await etl.call(
        "POST", "/etl/connections", as_user="root", json={"name": "x", "connection": {"kind": "oracle"}}
    )
    assert status == 422 and problem["errors"][0]["loc"][:2] == ["body", "connection"]

    status, started = await etl.call("POST", "/etl/jobs/warga/runs", as_user="a_admin", json={})
    run = await poll(etl, started["run_id"], "a_admin", {"succeeded", "failed"})
    assert run["state"] == "succeeded", run["error"]
    async with asyncpg_connect(target_dsn) as conn:
        assert await conn.fetchval("SELECT count(*) FROM penduduk") == N

    assert (await etl.call("DELETE", "/etl/connections/kependudukan", as_user="root"))[0] == 204
    status, started = await etl.call("POST", "/etl/jobs/warga/runs", as_user="a_admin", json={})
    run = await poll(etl, started["run_id"], "a_admin", {"succeeded", "failed"})
    assert run["state"] == "failed" and "no connection 'kependudukan' is registered in the catalog" in run["error"]


@contextlib.asynccontextmanager
async def asyncpg_connect(dsn: str) -> AsyncIterator[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()
