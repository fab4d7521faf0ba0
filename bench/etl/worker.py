"""One measured process: run an ETL job (target "splp") or a server-side COPY of the same rows as CSV ("copy").

Prints one JSON line: rows, seconds, peak_rss_mb (this process's max RSS, from getrusage).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path

import asyncpg
import uvloop


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


async def _splp(job_file: str, state: str) -> dict[str, float]:
    from gateway.etl.engine import execute
    from gateway.etl.load import load_job
    from gateway.etl.state import open_runs

    job = load_job(job_file)
    store = await open_runs(state)
    record = await store.create_run(job.name, job_file, {})
    started = time.perf_counter()
    result = await execute(job, Path(job_file).parent, record.id, store)
    seconds = time.perf_counter() - started
    done = await store.get_run(record.id)
    await store.close()
    if result != "succeeded":
        raise SystemExit(f"run failed: {done.error}")
    rows = sum(s["written"] for s in done.steps.values())
    return {"rows": rows, "seconds": seconds}


async def _copy(dsn: str, table: str, columns: str, csv_path: str) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        status = await conn.execute(f"COPY {table} ({columns}) FROM '{csv_path}' WITH (FORMAT csv)")
        seconds = time.perf_counter() - started
    finally:
        await conn.close()
    return {"rows": int(status.split()[-1]), "seconds": seconds}


def main() -> None:
    kind = sys.argv[1]
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # as `splp etl run` does
        result = runner.run(_splp(*sys.argv[2:4]) if kind == "splp" else _copy(*sys.argv[2:6]))
    result["peak_rss_mb"] = round(_peak_mb(), 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
