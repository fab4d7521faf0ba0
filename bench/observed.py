"""Scenario `observed`: a fresh PostgreSQL database for the analytics events before the run, and the
event accounting after it: every call the gateway queued must be written (none dropped, none failed),
read from its own counters on the status listener and from a count of the rows in PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "splp_bench_analytics"


async def _recreate() -> None:
    import asyncpg

    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()


def prepare(workdir: Path) -> None:
    """A fresh analytics database and an access log in the run's folder (the gateway inherits the env)."""
    asyncio.run(_recreate())
    os.environ["SPLP_BENCH_ANALYTICS"] = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
    os.environ["SPLP_BENCH_ACCESS_LOG"] = str(workdir / "access.log")


async def _rows() -> int:
    import asyncpg

    conn = await asyncpg.connect(os.environ["SPLP_BENCH_ANALYTICS"])
    try:
        return int(await conn.fetchval("SELECT count(*) FROM analytics_events"))
    finally:
        await conn.close()


def account(status_url: str, workdir: Path, settle: float = 3.0) -> dict[str, int]:
    """Waits for the last flush, then: queued, dropped, written, failed (gateway counters), rows in
    PostgreSQL and access-log lines. lost = queued + dropped - rows."""
    time.sleep(settle)
    with urllib.request.urlopen(f"{status_url}/metrics", timeout=10) as response:  # noqa: S310 - loopback
        text = response.read().decode()
    values: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "splp_analytics_events_total":
                values[sample.labels["outcome"]] = int(sample.value)
            elif sample.name == "splp_analytics_sink_events_total":
                values[f"sink_{sample.labels['outcome']}"] = int(sample.value)
    rows = asyncio.run(_rows())
    access = workdir / "access.log"
    lines = sum(1 for _ in access.open("rb")) if access.exists() else 0
    queued = values.get("queued", 0)
    return {
        "queued": queued,
        "dropped": values.get("dropped", 0),
        "sink_written": values.get("sink_written", 0),
        "sink_failed": values.get("sink_failed", 0),
        "rows": rows,
        "access_lines": lines,
        "lost": queued + values.get("dropped", 0) - rows,
    }
