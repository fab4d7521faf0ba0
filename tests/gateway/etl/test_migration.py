"""MariaDB -> PostgreSQL: the Lapor schema with IDMap, IDMap Lookup, a deferred self-reference, reconciliation."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from gateway.etl.engine import execute
from gateway.etl.load import load_job
from gateway.etl.state import RunStore

from . import lapor
from .conftest import maria_exec, write_job

JKT = ZoneInfo("Asia/Jakarta")


async def _start(tmp_path: Path, store: RunStore, job: dict[str, Any], params: dict | None = None) -> str:
    path = write_job(tmp_path, job)
    record = await store.create_run(job["name"], str(path), params or {})
    state = await execute(load_job(path), tmp_path, record.id, store)
    rec = await store.get_run(record.id)
    assert state == "succeeded", (rec.error, await store.logs(record.id))
    return record.id


async def _idmap(conn: asyncpg.Connection, table: str) -> dict[int, int]:
    rows = await conn.fetch(
        "SELECT src_key, tgt_key FROM splp_etl_idmap WHERE job = 'lapor-migrasi' AND tbl = $1", table
    )
    return {int(r[0]): r[1] for r in rows}


async def test_lapor_mariadb_to_postgres(tmp_path: Path, store: RunStore, maria: dict, pg_dsn: str) -> None:
    rows = lapor.seed_rows()
    await lapor.create_source(maria, rows)
    await lapor.create_target(pg_dsn)
    run_id = await _start(tmp_path, store, lapor.job(maria, pg_dsn))
    record = await store.get_run(run_id)

    logs = [entry["message"] for entry in await store.logs(run_id)]
    order = next(m for m in logs if m.startswith("order: "))
    # parents first; among ready steps the written order holds; both self-references are deferred
    assert order.startswith("order: categories -> reporters -> complaints -> comments -> attachments; deferred: ")
    assert set(order.split("deferred: ")[1].split(", ")) == {"comments.parent_id", "categories.parent_id"}
    for table, n in lapor.SIZES.items():
        assert record.steps[table]["read"] == n and record.steps[table]["written"] == n
        assert record.steps[table]["rejected"] == 0
        rec = record.reconcile[table]
        assert rec["match"] is True, rec
        assert rec["source_rows"] == rec["target_rows"] == n
        assert rec["source_checksum"] == rec["target_checksum"]

    conn = await asyncpg.connect(pg_dsn)
    try:
        maps = {t: await _idmap(conn, t) for t in lapor.SIZES}
        for t, n in lapor.SIZES.items():
            assert len(maps[t]) == n
        # target keys are new (the target already had rows), so only the IDMap links the two sides
        assert maps["categories"][1] == 4 and maps["reporters"][1] == 2

        cats = {r["id"]: r for r in await conn.fetch("SELECT * FROM categories")}
        for cid, name, parent, active in rows["categories"]:
            row = cats[maps["categories"][cid]]
            assert row["name"] == name and row["active"] is bool(active)
            assert row["parent_id"] == (maps["categories"][parent] if parent else None)

        reps = {r["id"]: r for r in await conn.fetch("SELECT * FROM reporters")}
        for rid, name, email, verified, joined in rows["reporters"]:
            row = reps[maps["reporters"][rid]]
            assert (row["name"], row["email"], row["verified"]) == (name, email, verified)
            assert row["joined_at"] == (joined.replace(tzinfo=JKT) if joined else None)

        comp = {r["id"]: r for r in await conn.fetch("SELECT * FROM complaints")}
        for cid, rep, cat, title, body, status, amount, created, closed, _updated in rows["complaints"]:
            row = comp[maps["complaints"][cid]]
            assert row["reporter_id"] == maps["reporters"][rep] and row["category_id"] == maps["categories"][cat]
            assert (row["title"], row["body"], row["status"], row["amount"]) == (title, body, status, amount)
            assert row["created_at"] == created.replace(tzinfo=JKT)  # DATETIME: wall clock in Asia/Jakarta
            assert row["closed_on"] == (None if closed in (None, "0000-00-00") else closed)  # zero date -> NULL
            assert row["region"] == "Jawa Barat" and row["title_upper"] == title.upper()
        # TIMESTAMP columns are UTC on the wire (session time_zone +00:00); the value read back must be an instant
        assert all(r["updated_at"].tzinfo is not None for r in comp.values())

        att = {r["id"]: r for r in await conn.fetch("SELECT * FROM attachments")}
        for aid, cid, fname, size, content in rows["attachments"]:
            row = att[maps["attachments"][aid]]
            assert (row["complaint_id"], row["filename"], row["size_bytes"], row["content"]) == (
                maps["complaints"][cid],
                fname,
                size,
                content,
            )

        com = {r["id"]: r for r in await conn.fetch("SELECT * FROM comments")}
        for mid, cid, rep, parent, body, _created in rows["comments"]:
            row = com[maps["comments"][mid]]
            assert row["complaint_id"] == maps["complaints"][cid]
            assert row["reporter_id"] == (maps["reporters"][rep] if rep else None)
            assert row["parent_id"] == (maps["comments"][parent] if parent else None)
            assert row["body"] == body
    finally:
        await conn.close()


async def test_rerun_updates_through_idmap_instead_of_inserting(
    tmp_path: Path, store: RunStore, maria: dict, pg_dsn: str
) -> None:
    rows = lapor.seed_rows()
    await lapor.create_source(maria, rows)
    await lapor.create_target(pg_dsn)
    job = lapor.job(maria, pg_dsn)
    await _start(tmp_path, store, job)
    await maria_exec(
        maria,
        "UPDATE reporters SET name = 'Nama Baru' WHERE id = 5",
        "INSERT INTO reporters (id, name, verified) VALUES (1000, 'Pelapor baru', 1)",
    )
    second = await _start(tmp_path, store, job)
    record = await store.get_run(second)
    assert all(r["match"] for r in record.reconcile.values()), record.reconcile
    conn = await asyncpg.connect(pg_dsn)
    try:
        maps = await _idmap(conn, "reporters")
        assert len(maps) == lapor.SIZES["reporters"] + 1
        assert await conn.fetchval("SELECT count(*) FROM reporters") == lapor.SIZES["reporters"] + 2
        assert await conn.fetchval("SELECT name FROM reporters WHERE id = $1", maps[5]) == "Nama Baru"
        assert await conn.fetchval("SELECT count(*) FROM complaints") == lapor.SIZES["complaints"]
        assert await conn.fetchval("SELECT count(*) FROM comments") == lapor.SIZES["comments"]
    finally:
        await conn.close()
