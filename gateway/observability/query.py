"""Reads for the dashboard and the control API: traffic by API, latency percentiles over time, and
passive backend health, from the store sink's tables (gateway/observability/store.py).

Every query is bounded: a range is at most MAX_RANGE long and answered in at most MAX_POINTS time
buckets (the step grows with the range), backend health looks back at most MAX_WINDOW. A store where
the sink never ran (no tables yet) answers empty results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.catalog.db import Connection
from gateway.observability.store import BUCKETS_MS

MAX_RANGE = 31 * 86400  # seconds
MAX_POINTS = 360
MAX_WINDOW = 86400
_BUCKET_SUMS = ", ".join(f"sum(le_{b}) AS le_{b}" for b in BUCKETS_MS) + ", sum(le_inf) AS le_inf"


class RangeError(ValueError):
    """An absurd range: what was asked and what is allowed."""


def check_range(start: int, end: int) -> int:
    """The step (seconds, a whole number of minutes) for [start, end); raises RangeError."""
    if end <= start:
        raise RangeError(f"'to' ({end}) must be after 'from' ({start})")
    if end - start > MAX_RANGE:
        raise RangeError(f"the range is {end - start} s; at most {MAX_RANGE} s (31 days) per query")
    minutes = -(-(end - start) // 60)
    return 60 * max(1, -(-minutes // MAX_POINTS))


def percentile(buckets: Sequence[int], fraction: float) -> float | None:
    """Upper bound (ms) of the bucket holding the given fraction of calls; None without calls."""
    total = sum(buckets)
    if not total:
        return None
    wanted = fraction * total
    seen = 0
    for bound, count in zip((*BUCKETS_MS, None), buckets, strict=True):
        seen += count
        if seen >= wanted:
            return float(bound) if bound is not None else float("inf")
    return float("inf")


def _tenant_filter(tenants: Sequence[str] | None, first: int) -> tuple[str, list[Any]]:
    if tenants is None:
        return "", []
    if not tenants:
        return " AND 1 = 0", []
    marks = ", ".join(f"${first + i}" for i in range(len(tenants)))
    return f" AND api_tenant IN ({marks})", list(tenants)


async def _has_tables(conn: Connection) -> bool:
    try:
        await conn.fetchval("SELECT count(*) FROM analytics_minutes WHERE 1 = 0")
    except Exception:  # noqa: BLE001 - no table yet: the sink never ran against this store
        return False
    return True


async def traffic_by_api(
    conn: Connection, start: int, end: int, tenants: Sequence[str] | None, api: str | None = None
) -> list[dict[str, Any]]:
    """Per API: calls, successes (< 400), client errors, server errors, latency p50/p95/p99 and max."""
    check_range(start, end)
    if not await _has_tables(conn):
        return []
    where, args = _tenant_filter(tenants, 3)
    if api:
        where += f" AND api = ${3 + len(args)}"
        args.append(api)
    rows = await conn.fetch(
        "SELECT api, api_tenant, status_class, sum(calls) AS calls, sum(latency_sum_ms) AS latency_sum,"
        f" max(latency_max_ms) AS latency_max, {_BUCKET_SUMS} FROM analytics_minutes"
        f" WHERE minute >= $1 AND minute < $2{where} GROUP BY api, api_tenant, status_class ORDER BY api",
        start // 60,
        -(-end // 60),
        *args,
    )
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        item = out.setdefault(
            row["api"],
            {
                "api": row["api"],
                "tenant": row["api_tenant"],
                "calls": 0,
                "success": 0,
                "client_errors": 0,
                "server_errors": 0,
                "latency_max_ms": 0.0,
                "_latency": 0.0,
                "_buckets": [0] * (len(BUCKETS_MS) + 1),
            },
        )
        calls = int(row["calls"])
        item["calls"] += calls
        kind = {"4xx": "client_errors", "5xx": "server_errors", "none": "server_errors"}.get(row["status_class"])
        item[kind or "success"] += calls
        item["_latency"] += float(row["latency_sum"] or 0)
        item["latency_max_ms"] = max(item["latency_max_ms"], float(row["latency_max"] or 0))
        for i, column in enumerate((*(f"le_{b}" for b in BUCKETS_MS), "le_inf")):
            item["_buckets"][i] += int(row[column] or 0)
    result = []
    for item in out.values():
        buckets = item.pop("_buckets")
        total = item.pop("_latency")
        item["latency_avg_ms"] = round(total / item["calls"], 3) if item["calls"] else None
        item.update(p50_ms=percentile(buckets, 0.5), p95_ms=percentile(buckets, 0.95), p99_ms=percentile(buckets, 0.99))
        result.append(item)
    return result


async def timeseries(
    conn: Connection, start: int, end: int, tenants: Sequence[str] | None, api: str | None = None
) -> dict[str, Any]:
    """Calls, errors and latency percentiles per step, oldest first."""
    step = check_range(start, end)
    points: list[dict[str, Any]] = []
    if await _has_tables(conn):
        where, args = _tenant_filter(tenants, 4)
        if api:
            where += f" AND api = ${4 + len(args)}"
            args.append(api)
        rows = await conn.fetch(
            f"SELECT (minute / $3) AS slot, sum(calls) AS calls, sum(errors) AS errors, {_BUCKET_SUMS}"
            f" FROM analytics_minutes WHERE minute >= $1 AND minute < $2{where} GROUP BY slot ORDER BY slot",
            start // 60,
            -(-end // 60),
            step // 60,
            *args,
        )
        for row in rows:
            buckets = [int(row[f"le_{b}"] or 0) for b in BUCKETS_MS] + [int(row["le_inf"] or 0)]
            points.append(
                {
                    "time": int(row["slot"]) * step,
                    "calls": int(row["calls"]),
                    "errors": int(row["errors"]),
                    "p50_ms": percentile(buckets, 0.5),
                    "p95_ms": percentile(buckets, 0.95),
                    "p99_ms": percentile(buckets, 0.99),
                }
            )
    return {"from": start, "to": end, "step": step, "points": points}


async def backend_health(
    conn: Connection, now: float, window: int, tenants: Sequence[str] | None
) -> list[dict[str, Any]]:
    """Passive health per backend endpoint from real calls in the last `window` seconds: calls, failures,
    the last failure's cause and time, and a state: down (the latest call failed), degraded, up."""
    window = max(60, min(window, MAX_WINDOW))
    if not await _has_tables(conn):
        return []
    where, args = _tenant_filter(tenants, 2)
    rows = await conn.fetch(
        "SELECT destination, api, ts, failure_kind, target_status FROM analytics_events"
        f" WHERE ts >= $1 AND destination <> ''{where} ORDER BY ts",
        now - window,
        *args,
    )
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        item = out.setdefault(
            row["destination"],
            {
                "endpoint": row["destination"],
                "apis": set(),
                "calls": 0,
                "failures": 0,
                "last_failure": None,
                "last_failure_at": None,
                "last_call_failed": False,
            },
        )
        item["apis"].add(row["api"])
        item["calls"] += 1
        failed = bool(row["failure_kind"]) or int(row["target_status"] or 0) >= 500  # probes included
        if failed:
            item["failures"] += 1
            cause = row["failure_kind"] or f"status {row['target_status']}"
            item["last_failure"], item["last_failure_at"] = cause, float(row["ts"])
        item["last_call_failed"] = failed
    result = []
    for item in out.values():
        item["apis"] = sorted(item["apis"])
        failed_last = item.pop("last_call_failed")
        item["state"] = "down" if failed_last else ("degraded" if item["failures"] else "up")
        result.append(item)
    return sorted(result, key=lambda i: i["endpoint"])
