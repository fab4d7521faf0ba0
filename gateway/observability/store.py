"""The analytics store sink: every event as a row, plus per-minute rollups for the dashboard, in SQLite
(embedded default) or PostgreSQL (asyncpg COPY in batches). Old rows go after `retention`.

The tables are created here (CREATE TABLE IF NOT EXISTS), not by the catalog's migrations, because the
store may be a separate database from the catalog. Times are epoch seconds (REAL/DOUBLE), minutes are
epoch minutes, so one SQL text serves both engines. A rollup row keeps latency bucket counts, which add
up across batches and workers, so percentiles over any range come from summing rows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import aiosqlite
import asyncpg
import orjson

from gateway.catalog.db import _create_private

# Rollup latency buckets, upper bounds in ms; the last column counts everything slower.
BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500)
_BUCKET_COLUMNS = tuple(f"le_{b}" for b in BUCKETS_MS) + ("le_inf",)

EVENT_COLUMNS = (
    "ts",
    "request_id",
    "trace_id",
    "api",
    "api_name",
    "api_version",
    "api_tenant",
    "user_tenant",
    "application_id",
    "user_name",
    "client_ip",
    "method",
    "path",
    "resource",
    "status",
    "target_status",
    "error_code",
    "request_bytes",
    "response_bytes",
    "latency_ms",
    "request_mediation_ms",
    "backend_ms",
    "response_mediation_ms",
    "destination",
    "failure_kind",
    "extra",
)
_ROLLUP_KEY = ("minute", "api", "api_tenant", "user_tenant", "application_id", "status_class")
_ROLLUP_SUMS = ("calls", "errors", "latency_sum_ms", "backend_sum_ms", *_BUCKET_COLUMNS)


def _schema(real: str, text: str) -> list[str]:
    events = ", ".join(
        f"{c} {real if c.endswith('_ms') or c == 'ts' else 'BIGINT' if c.endswith(('bytes', 'status')) else text}"
        for c in EVENT_COLUMNS
    )
    sums = ", ".join(f"{c} {real if c.endswith('_ms') else 'BIGINT'} NOT NULL DEFAULT 0" for c in _ROLLUP_SUMS)
    return [
        f"CREATE TABLE IF NOT EXISTS analytics_events ({events})",
        "CREATE INDEX IF NOT EXISTS analytics_events_ts ON analytics_events (ts)",
        "CREATE TABLE IF NOT EXISTS analytics_minutes (minute BIGINT NOT NULL, api TEXT NOT NULL, "
        "api_tenant TEXT NOT NULL, "
        "user_tenant TEXT NOT NULL, application_id TEXT NOT NULL, status_class TEXT NOT NULL, "
        f"{sums}, latency_max_ms {real} NOT NULL DEFAULT 0, PRIMARY KEY ({', '.join(_ROLLUP_KEY)}))",
    ]


# Event fields that have their own column (or are not worth keeping in the store); the rest (a policy's
# notes, policy timings, the error text, application names...) goes to the `extra` JSON column.
_COLUMN_FIELDS = frozenset(
    {
        "timestamp", "requestTimestamp", "correlationId", "traceId", "apiContext", "apiName", "apiVersion",
        "apiCreatorTenantDomain", "userTenantDomain", "applicationId", "userName", "userIp", "apiMethod", "path",
        "apiResourceTemplate", "proxyResponseCode", "targetResponseCode", "errorCode", "requestSize",
        "responseSize", "responseLatency", "requestMediationLatency", "backendLatency", "responseMediationLatency",
        "destination", "backendFailureKind", "gatewayLatency", "userAgentHeader", "referer",
    }
)  # fmt: skip


def event_row(event: dict[str, Any]) -> tuple[Any, ...]:
    get = event.get
    extra = {key: value for key, value in event.items() if key not in _COLUMN_FIELDS}
    code = get("errorCode")
    return (
        event["timestamp"], event["correlationId"], event["traceId"], get("apiContext", ""), get("apiName", ""),
        get("apiVersion", ""), get("apiCreatorTenantDomain", ""), get("userTenantDomain", ""),
        get("applicationId", ""), get("userName", ""), event["userIp"], event["apiMethod"], event["path"][:2048],
        get("apiResourceTemplate", ""), event["proxyResponseCode"], event["targetResponseCode"],
        "" if code is None else str(code), event["requestSize"], event["responseSize"], event["responseLatency"],
        get("requestMediationLatency"), get("backendLatency"), get("responseMediationLatency"),
        get("destination", ""), get("backendFailureKind", ""),
        orjson.dumps(extra, default=str).decode() if extra else "",
    )  # fmt: skip


def rollups(events: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """One row per (minute, API, its institution, calling institution, application, status class): values to add."""
    rows: dict[tuple[Any, ...], list[Any]] = {}
    for event in events:
        if "probe" in event:  # an active health probe, not a call
            continue
        status = event["proxyResponseCode"]
        key = (
            int(event["timestamp"] // 60),
            event.get("apiContext") or "-",
            event.get("apiCreatorTenantDomain") or "",
            event.get("userTenantDomain") or "",
            event.get("applicationId") or "",
            f"{status // 100}xx" if status else "none",
        )
        row = rows.get(key)
        if row is None:
            row = rows[key] = [0] * (len(_ROLLUP_SUMS) + 1)
        latency = event["responseLatency"]
        row[0] += 1
        row[1] += 1 if status >= 500 or status == 0 else 0
        row[2] += latency
        row[3] += event.get("backendLatency") or 0.0
        bucket = next((i for i, bound in enumerate(BUCKETS_MS) if latency <= bound), len(BUCKETS_MS))
        row[4 + bucket] += 1
        row[-1] = max(row[-1], latency)
    return [(*key, *values) for key, values in rows.items()]


def _upsert_sql(mark: Any) -> str:
    columns = (*_ROLLUP_KEY, *_ROLLUP_SUMS, "latency_max_ms")
    adds = ", ".join(f"{c} = analytics_minutes.{c} + excluded.{c}" for c in _ROLLUP_SUMS)
    values = ", ".join(mark(i + 1) for i in range(len(columns)))
    return (
        f"INSERT INTO analytics_minutes ({', '.join(columns)}) VALUES ({values}) "
        f"ON CONFLICT ({', '.join(_ROLLUP_KEY)}) DO UPDATE SET {adds}, "
        "latency_max_ms = CASE WHEN excluded.latency_max_ms > analytics_minutes.latency_max_ms "
        "THEN excluded.latency_max_ms ELSE analytics_minutes.latency_max_ms END"
    )


class StoreEvents:
    """The `store` sink. Opened at startup; `write` runs in the background flush."""

    def __init__(self, uri: str, retention: float) -> None:
        self.name = "store:" + uri.split("@")[-1].split("?")[0]  # no credentials in metrics labels
        self.uri = uri
        self.retention = retention
        self._pg: asyncpg.Pool | None = None
        self._sqlite: aiosqlite.Connection | None = None
        self._pruned = 0.0

    async def open(self) -> None:
        if self.uri.startswith("sqlite:///"):
            from pathlib import Path

            path = Path(self.uri[len("sqlite:///") :])
            _create_private(path)
            self._sqlite = await aiosqlite.connect(str(path), isolation_level=None)
            await self._sqlite.execute("PRAGMA journal_mode=WAL")
            await self._sqlite.execute("PRAGMA busy_timeout=5000")
            for statement in _schema("REAL", "TEXT"):
                await self._sqlite.execute(statement)
        else:
            self._pg = await asyncpg.create_pool(self.uri, min_size=1, max_size=2)
            async with self._pg.acquire() as conn:
                for statement in _schema("DOUBLE PRECISION", "TEXT"):
                    await conn.execute(statement)

    async def write(self, events: list[dict[str, Any]]) -> None:
        rows = [event_row(event) for event in events]
        minutes = rollups(events)
        now = time.time()
        prune = now - self._pruned > 60.0
        if self._pg is not None:
            async with self._pg.acquire() as conn, conn.transaction():
                await conn.copy_records_to_table("analytics_events", records=rows, columns=EVENT_COLUMNS)
                await conn.executemany(_upsert_sql(lambda i: f"${i}"), minutes)
                if prune:
                    await conn.execute("DELETE FROM analytics_events WHERE ts < $1", now - self.retention)
                    await conn.execute(
                        "DELETE FROM analytics_minutes WHERE minute < $1", int((now - self.retention) // 60)
                    )
        elif self._sqlite is not None:
            conn = self._sqlite
            await conn.execute("BEGIN IMMEDIATE")
            try:
                marks = ", ".join("?" for _ in EVENT_COLUMNS)
                await conn.executemany(
                    f"INSERT INTO analytics_events ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})", rows
                )
                await conn.executemany(_upsert_sql(lambda i: "?"), minutes)
                if prune:
                    await conn.execute("DELETE FROM analytics_events WHERE ts < ?", (now - self.retention,))
                    await conn.execute(
                        "DELETE FROM analytics_minutes WHERE minute < ?", (int((now - self.retention) // 60),)
                    )
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")
        if prune:
            self._pruned = now

    async def aclose(self) -> None:
        if self._pg is not None:
            await self._pg.close()
        if self._sqlite is not None:
            await self._sqlite.close()
