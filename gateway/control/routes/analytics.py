"""Traffic analytics for the dashboard, from the analytics store sink (gateway/observability/query.py):
national for a super admin, the APIs of the own tenant's subtree for tenant admins and auditors.
Ranges are epoch seconds; a range over 31 days or ending before it starts answers 422."""

from __future__ import annotations

import time
from typing import Any

from gateway.control import errors
from gateway.control.access import READERS
from gateway.control.endpoints import Call, Endpoint, QueryParam
from gateway.observability import query

_LATEST = 4102444800  # 2100-01-01: anything later is not a time the store holds
RANGE = (
    QueryParam("from", "Start, epoch seconds (default: an hour ago).", int, 0, _LATEST),
    QueryParam("to", "End, epoch seconds, exclusive (default: now).", int, 0, _LATEST),
    QueryParam("api", "Only this API (context/version, e.g. /bappenas/pegawai/v1)."),
    QueryParam("tenant", "Only the APIs of this institution (slug), within what you may see."),
)


async def _tenant_slugs(call: Call) -> list[str] | None:
    """The API owners this principal may see (None: everyone, a super admin), narrowed to ?tenant= when given
    (a tenant outside the scope gives an empty list: nothing is shown, nothing is revealed)."""
    ids = call.principal.scoped_ids()
    slugs = None if ids is None else [(await call.store.tenants.get(tenant_id)).slug for tenant_id in ids]
    wanted = call.query.get("tenant")
    if wanted is None:
        return slugs
    return [wanted] if slugs is None or wanted in slugs else []


def _range(call: Call) -> tuple[int, int]:
    now = int(time.time())
    end = call.query["to"] if call.query["to"] is not None else now + 60
    start = call.query["from"] if call.query["from"] is not None else end - 3600
    try:
        query.check_range(start, end)
    except query.RangeError as exc:
        raise errors.invalid([{"loc": ["query", "from"], "msg": str(exc), "type": "range"}]) from None
    return start, end


async def get_traffic(call: Call) -> dict[str, Any]:
    start, end = _range(call)
    tenants = await _tenant_slugs(call)
    async with call.store.db.read() as conn:
        items = await query.traffic_by_api(conn, start, end, tenants, call.query["api"])
    return {"from": start, "to": end, "apis": items}


async def get_timeseries(call: Call) -> dict[str, Any]:
    start, end = _range(call)
    tenants = await _tenant_slugs(call)
    async with call.store.db.read() as conn:
        return await query.timeseries(conn, start, end, tenants, call.query["api"])


async def get_backends(call: Call) -> dict[str, Any]:
    tenants = await _tenant_slugs(call)
    window = call.query["window"]
    async with call.store.db.read() as conn:
        items = await query.backend_health(conn, time.time(), window, tenants)
    return {"window": window, "backends": items}


ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/analytics/traffic",
        get_traffic,
        "Calls, successes, errors and latency percentiles per API over a range (at most 31 days)",
        "analytics",
        roles=READERS,
        query=RANGE,
    ),
    Endpoint(
        "GET",
        "/api/v1/analytics/timeseries",
        get_timeseries,
        "Calls, errors and latency p50/p95/p99 over time (at most 360 points; the step grows with the range)",
        "analytics",
        roles=READERS,
        query=RANGE,
    ),
    Endpoint(
        "GET",
        "/api/v1/analytics/backends",
        get_backends,
        "Passive backend health from real calls: state, calls, failures, last failure cause and time",
        "analytics",
        roles=READERS,
        query=(QueryParam("window", "Look-back in seconds (60..86400).", int, 60, query.MAX_WINDOW, 900),),
    ),
)
