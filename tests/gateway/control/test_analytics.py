"""Analytics routes over the store sink's tables: traffic per API, time series, passive backend health,
tenant scoping and bounded ranges."""

from __future__ import annotations

import time
from typing import Any

from gateway.observability.store import StoreEvents
from tests.gateway.control.conftest import Control


def event(ts: float, api: str, tenant: str, status: int, latency: float, **extra: Any) -> dict[str, Any]:
    return {
        "timestamp": ts,
        "correlationId": f"r{ts}",
        "traceId": "",
        "apiContext": api,
        "apiCreatorTenantDomain": tenant,
        "userIp": "10.0.0.1",
        "apiMethod": "GET",
        "path": api + "/x",
        "proxyResponseCode": status,
        "targetResponseCode": status,
        "requestSize": 0,
        "responseSize": 10,
        "responseLatency": latency,
        **extra,
    }


async def write(store_uri: str, events: list[dict[str, Any]]) -> None:
    sink = StoreEvents(store_uri, retention=86400)
    await sink.open()
    try:
        await sink.write(events)
    finally:
        await sink.aclose()


async def test_traffic_series_and_backends_scoped_by_tenant(control: Control, store_uri: str) -> None:
    status, empty = await control.call("GET", "/analytics/traffic", as_user="root")
    assert status == 200 and empty["apis"] == []  # no sink has written here yet
    now = time.time()
    pegawai, obat = "/bappenas/pegawai/v1", "/kemenkes/obat/v1"
    good, bad = "http://10.0.0.5:8080", "http://10.0.0.6:8080"
    await write(
        store_uri,
        [event(now - 120 + i, pegawai, "bappenas", 200, 3.0 + i, destination=good) for i in range(18)]
        + [event(now - 60, pegawai, "bappenas", 404, 1.0)]
        + [event(now - 30, obat, "kemenkes", 502, 2.0, destination=bad, backendFailureKind="refused")],
    )
    status, body = await control.call("GET", "/analytics/traffic", as_user="root")
    assert status == 200
    by_api = {item["api"]: item for item in body["apis"]}
    assert by_api[pegawai]["calls"] == 19 and by_api[pegawai]["success"] == 18
    assert by_api[pegawai]["client_errors"] == 1 and by_api[pegawai]["p50_ms"] == 25.0
    assert by_api[obat]["server_errors"] == 1 and by_api[obat]["tenant"] == "kemenkes"

    status, mine = await control.call("GET", "/analytics/traffic", as_user="a_admin")
    assert status == 200 and [item["api"] for item in mine["apis"]] == [pegawai]  # not kemenkes' API

    start = int(now) - 3600
    status, series = await control.call("GET", f"/analytics/timeseries?from={start}&to={int(now) + 60}", as_user="root")
    assert status == 200 and series["step"] == 60 and sum(p["calls"] for p in series["points"]) == 20

    status, health = await control.call("GET", "/analytics/backends", as_user="root")
    states = {b["endpoint"]: (b["state"], b["last_failure"]) for b in health["backends"]}
    assert states == {good: ("up", None), bad: ("down", "refused")}
    status, health = await control.call("GET", "/analytics/backends", as_user="a_aud")
    assert [b["endpoint"] for b in health["backends"]] == [good]


async def test_absurd_ranges_are_refused(control: Control) -> None:
    for query in ("from=0&to=4102444800", "from=2000&to=1000", "from=-5", "to=99999999999999"):
        status, problem = await control.call("GET", f"/analytics/timeseries?{query}", as_user="root")
        assert status == 422, query
        assert problem["code"] == 801422 and problem["errors"][0]["loc"][0] == "query"
    status, _ = await control.call("GET", "/analytics/backends?window=999999999", as_user="root")
    assert status == 422
    status, _ = await control.call("GET", "/analytics/traffic", as_user="a_dev")
    assert status == 403  # subscribers see no traffic figures
