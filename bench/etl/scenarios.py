"""ETL scenarios: the same generated rows moved by SPLP and by PostgreSQL's own server-side COPY from CSV.

- etl-pg-pg: PostgreSQL -> PostgreSQL, `rows` items with IDMap on the key and one FK (parent_id) rewritten
  through the IDMap of a parents step (rows / 100 parents, counted in the rows moved).
- etl-pg-pg-append: PostgreSQL -> PostgreSQL, plain append keeping the keys (the COPY path).
- etl-mysql-pg: MariaDB -> PostgreSQL append (server-side cursor, type conversion, COPY into the target).

"copy" is `COPY items FROM '<csv>'` of the same rows into an identical empty table: the floor for loading
them. Both sides run in a fresh process; peak_rss_mb is that process's maximum RSS. Runs use
reconcile: counts (a full checksum pass re-reads both sides; it is measured separately when asked).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import asyncmy
import asyncpg
import yaml

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
ROOT = Path(__file__).resolve().parents[2]
BATCH = 5000

ITEMS_PG = """CREATE TABLE parents (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE items (id serial PRIMARY KEY, parent_id integer REFERENCES parents(id), name text NOT NULL,
                    amount numeric(12,2), active boolean NOT NULL, created_at timestamptz NOT NULL)"""
SEED_PG = """INSERT INTO parents SELECT i, 'parent ' || i FROM generate_series(1, $1) i;
INSERT INTO items SELECT i, (i % $1) + 1, 'item number ' || i, (i % 100000) / 100.0, i % 3 = 0,
                         timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second'
                  FROM generate_series(1, $2) i"""
COLUMNS = "id, parent_id, name, amount, active, created_at"


def _names() -> tuple[str, str]:
    tag = f"{os.getpid()}_{os.urandom(3).hex()}"
    return f"bench_etl_src_{tag}", f"bench_etl_dst_{tag}"


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(database="postgres", **PG)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _dsn(db: str) -> str:
    return f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{db}"


async def _pg_seed(db: str, parents: int, rows: int) -> None:
    conn = await asyncpg.connect(database=db, **PG)
    try:
        await conn.execute(ITEMS_PG)
        await conn.execute(SEED_PG.replace("$1", str(parents)).replace("$2", str(rows)))
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _my_seed(db: str, parents: int, rows: int) -> None:
    conn = await asyncmy.connect(autocommit=True, **MY)
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"CREATE DATABASE `{db}`")
            await cur.execute(f"USE `{db}`")
            await cur.execute("CREATE TABLE parents (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL)")
            await cur.execute(
                "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, parent_id INT, "
                "name VARCHAR(100) NOT NULL, amount DECIMAL(12,2), active TINYINT(1) NOT NULL, "
                "created_at DATETIME NOT NULL, FOREIGN KEY (parent_id) REFERENCES parents(id))"
            )
            await cur.execute(f"INSERT INTO parents SELECT seq, CONCAT('parent ', seq) FROM seq_1_to_{parents}")
            await cur.execute(
                f"INSERT INTO items SELECT seq, (seq % {parents}) + 1, CONCAT('item number ', seq), "
                f"(seq % 100000) / 100.0, seq % 3 = 0, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq "
                f"SECOND FROM seq_1_to_{rows}"
            )
    finally:
        conn.close()


async def _my_drop(db: str) -> None:
    conn = await asyncmy.connect(autocommit=True, **MY)
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
    finally:
        conn.close()


def _job(name: str, src_conn: dict[str, Any], dst: str, idmap: bool, reconcile: str = "counts") -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    for table in ("parents", "items"):
        step: dict[str, Any] = {
            "name": table,
            "source": {"connection": "src", "table": table},
            "target": {"connection": "dst", "table": table},
        }
        if idmap:
            step["idmap"] = "id"  # items.parent_id is rewritten through the parents IDMap (FK lookup)
        steps.append(step)
    return {
        "name": name,
        "batch_size": BATCH,
        "reconcile": reconcile,
        "connections": {"src": src_conn, "dst": {"kind": "postgres", "dsn": _dsn(dst)}},
        "steps": steps,
    }


async def _worker(*args: str, profile: str | None = None) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "bench.etl.worker", *args]
    if profile:  # py-spy samples the worker (own time, raw stacks) into this file
        spy = str(Path(sys.executable).with_name("py-spy"))
        command = [spy, "record", "--rate", "200", "--format", "raw", "--output", profile, "--", *command]
    proc = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"bench worker {args[0]} failed: {err.decode()[-2000:]}")
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]  # py-spy adds its own lines
    return json.loads(lines[-1])


async def run_scenario(
    name: str, rows: int, *, reconcile: str = "counts", profile: str | None = None
) -> list[dict[str, Any]]:
    if name not in SCENARIOS:
        raise ValueError(f"unknown ETL scenario {name!r}; known: {', '.join(SCENARIOS)}")
    parents = max(1, rows // 100)
    src, dst = _names()
    csv_path = f"/tmp/{dst}.csv"
    mysql = name == "etl-mysql-pg"
    with tempfile.TemporaryDirectory(prefix="bench-etl-") as tmp:
        try:
            await _pg_admin(f'CREATE DATABASE "{dst}"')
            await _pg_admin(f'CREATE DATABASE "{dst}_copy"')
            if mysql:
                await _my_seed(src, parents, rows)
                src_conn: dict[str, Any] = {"kind": "mysql", **MY, "database": src}
            else:
                await _pg_admin(f'CREATE DATABASE "{src}"')
                await _pg_seed(src, parents, rows)
                src_conn = {"kind": "postgres", "dsn": _dsn(src)}
            for db in (dst, f"{dst}_copy"):
                conn = await asyncpg.connect(database=db, **PG)
                await conn.execute(ITEMS_PG)
                await conn.close()
            # the same rows as CSV, written by the server, for the COPY baseline (export not timed)
            gen = await asyncpg.connect(database=f"{dst}_copy", **PG)
            try:
                await gen.execute(SEED_PG.replace("$1", str(parents)).replace("$2", str(rows)))
                await gen.execute(f"COPY (SELECT {COLUMNS} FROM items) TO '{csv_path}' WITH (FORMAT csv)")
                await gen.execute("TRUNCATE items")
            finally:
                await gen.close()

            job_file = Path(tmp) / "job.yaml"
            job_file.write_text(
                yaml.safe_dump(_job(name, src_conn, dst, idmap=name == "etl-pg-pg", reconcile=reconcile))
            )
            splp = await _worker("splp", str(job_file), f"sqlite:///{tmp}/catalog.db", profile=profile)
            copy = await _worker("copy", _dsn(f"{dst}_copy"), "items", COLUMNS, csv_path)
            conn = await asyncpg.connect(database=dst, **PG)
            try:
                moved = await conn.fetchval("SELECT count(*) FROM items")
            finally:
                await conn.close()
            if moved != rows:
                raise RuntimeError(f"{name}: {moved} rows in the target, expected {rows}")
        finally:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{dst}" WITH (FORCE)')
            await _pg_admin(f'DROP DATABASE IF EXISTS "{dst}_copy" WITH (FORCE)')
            if mysql:
                await _my_drop(src)
            else:
                await _pg_admin(f'DROP DATABASE IF EXISTS "{src}" WITH (FORCE)')
            await _pg_admin(f"COPY (SELECT 1 WHERE false) TO '{csv_path}'")  # truncate the server-written CSV
    label = name if reconcile == "counts" else f"{name} (reconcile {reconcile})"
    return [
        {
            "scenario": label,
            "target": "splp",
            "rows_per_s": round(splp["rows"] / splp["seconds"]),
            "peak_rss_mb": splp["peak_rss_mb"],
            "rows": int(splp["rows"]),
            "seconds": round(splp["seconds"], 2),
        },
        {
            "scenario": label,
            "target": "copy",
            "rows_per_s": round(copy["rows"] / copy["seconds"]),
            "peak_rss_mb": copy["peak_rss_mb"],
            "rows": int(copy["rows"]),
            "seconds": round(copy["seconds"], 2),
        },
    ]


SCENARIOS = ("etl-pg-pg", "etl-pg-pg-append", "etl-mysql-pg")
