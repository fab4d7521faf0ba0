"""The analytics store sink on SQLite and PostgreSQL: event rows (COPY on PostgreSQL), per-minute rollups
that add up across flushes, and retention."""

from __future__ import annotations

import time

import aiohttp

from gateway.catalog.db import open_database
from gateway.observability.store import StoreEvents
from tests.gateway.catalog.backends import pg_module_database, store_uri  # noqa: F401 - fixtures
from tests.gateway.conftest import api, running_gateway
from tests.servers import EchoUpstream, serve


async def test_events_and_rollups_reach_the_store(write_config, store_uri):  # noqa: F811
    async with serve(EchoUpstream()) as port:
        path = write_config(
            [api("svc", [f"http://127.0.0.1:{port}"])],
            observability={"analytics": {"sinks": [{"type": "store", "uri": store_uri}]}},
        )
        async with running_gateway(path) as (base, app), aiohttp.ClientSession() as http:
            assert app.pipeline is not None
            for batch in range(2):  # two flushes: the minute rows add up
                for _ in range(5):
                    async with http.get(f"{base}/svc/v1/echo") as r:
                        assert r.status == 200
                async with http.get(f"{base}/svc/v1/status/503", headers={"x-request-id": f"err-{batch}"}) as r:
                    assert r.status == 503
                await app.pipeline.flush()
            assert app.pipeline.written == {app.pipeline.sinks[0].name: 12}
    db = await open_database(store_uri)
    try:
        async with db.read() as conn:
            rows = await conn.fetch("SELECT api, status, method, path, latency_ms, extra FROM analytics_events")
            minutes = await conn.fetch(
                "SELECT api, status_class, sum(calls) AS calls, sum(le_inf) + sum(le_5) + sum(le_10) + sum(le_25)"
                " + sum(le_50) + sum(le_100) + sum(le_250) + sum(le_500) + sum(le_1000) + sum(le_2500) AS bucketed"
                " FROM analytics_minutes GROUP BY api, status_class ORDER BY status_class"
            )
    finally:
        await db.close()
    assert len(rows) == 12 and {r["api"] for r in rows} == {"/svc/v1"}
    assert sorted(r["status"] for r in rows) == [200] * 10 + [503] * 2
    assert all(r["latency_ms"] > 0 for r in rows)
    assert {r["extra"] for r in rows} == {""}  # every field of a plain call has its column
    # one minute row per status class (two if the test crossed a minute boundary): calls add up across flushes
    summed = {(m["api"], m["status_class"]): (int(m["calls"]), int(m["bucketed"])) for m in minutes}
    assert summed == {("/svc/v1", "2xx"): (10, 10), ("/svc/v1", "5xx"): (2, 2)}


async def test_retention_deletes_old_rows(store_uri):  # noqa: F811
    sink = StoreEvents(store_uri, retention=3600)
    await sink.open()
    try:
        old = time.time() - 7200
        event = {
            "timestamp": old,
            "requestTimestamp": "x",
            "correlationId": "old",
            "traceId": "",
            "userIp": "",
            "apiMethod": "GET",
            "path": "/",
            "proxyResponseCode": 200,
            "targetResponseCode": 200,
            "requestSize": 0,
            "responseSize": 0,
            "responseLatency": 1.0,
        }
        # a write prunes (at most once a minute) after inserting: the old row goes in the same transaction
        await sink.write([event, {**event, "timestamp": time.time(), "correlationId": "new"}])
    finally:
        await sink.aclose()
    db = await open_database(store_uri)
    try:
        async with db.read() as conn:
            ids = [r["request_id"] for r in await conn.fetch("SELECT request_id FROM analytics_events")]
            minutes = await conn.fetchval("SELECT count(*) FROM analytics_minutes")
    finally:
        await db.close()
    assert ids == ["new"] and minutes == 1
