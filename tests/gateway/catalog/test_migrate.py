"""The migrator: versions recorded, upgrades keep data, a failed migration changes nothing, newer schemas refused."""

from __future__ import annotations

import pytest

from gateway.catalog.audit import Actor
from gateway.catalog.db import open_database
from gateway.catalog.errors import StoreConfigError
from gateway.catalog.migrate import applied_versions, migrate
from gateway.catalog.migrations import MIGRATIONS, Migration
from gateway.catalog.models import TenantCreate
from gateway.catalog.store import CatalogStore, open_store

SYSTEM = Actor.system("test")

V1 = Migration(1, "things", "CREATE TABLE things (id TEXT PRIMARY KEY, label TEXT NOT NULL);", "")
V2 = Migration(
    2,
    "things get a size",
    "ALTER TABLE things ADD COLUMN size INTEGER NOT NULL DEFAULT 0;\nCREATE INDEX things_size ON things (size);",
    "",
)


def both(m: Migration) -> Migration:
    return Migration(m.version, m.name, m.sqlite, m.postgres or m.sqlite)


async def test_upgrade_keeps_rows(store_uri: str) -> None:
    db = await open_database(store_uri)
    try:
        assert await migrate(db, [both(V1)]) == [1]
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO things (id, label) VALUES ($1, $2)", "a", "first")
        assert await migrate(db, [both(V1), both(V2)]) == [2]
        async with db.read() as conn:
            rows = await conn.fetch("SELECT id, label, size FROM things")
        assert rows == [{"id": "a", "label": "first", "size": 0}]
        assert await applied_versions(db) == {1: "things", 2: "things get a size"}
        assert await migrate(db, [both(V1), both(V2)]) == []  # idempotent
    finally:
        await db.close()


async def test_real_schema_upgrade_from_1_keeps_tenants(store_uri: str) -> None:
    db = await open_database(store_uri)
    try:
        assert await migrate(db, target=1) == [1]
        tenants = CatalogStore(db).tenants
        created = await tenants.create(SYSTEM, TenantCreate(slug="kominfo", name="Kominfo", kind="national"))
        assert await migrate(db) == list(range(2, len(MIGRATIONS) + 1))
        assert await tenants.get(created.id) == created
        assert (await CatalogStore(db).audit.list(object_id=created.id))[0].action == "tenant.create"
    finally:
        await db.close()


async def test_failed_migration_leaves_nothing_behind(store_uri: str) -> None:
    broken = Migration(2, "broken", "CREATE TABLE half (id TEXT);\nTHIS IS NOT SQL;", "")
    db = await open_database(store_uri)
    try:
        await migrate(db, [both(V1)])
        with pytest.raises(Exception):  # noqa: B017 - each engine raises its own syntax error
            await migrate(db, [both(V1), both(broken)])
        assert await applied_versions(db) == {1: "things"}
        async with db.read() as conn:
            # the table created before the failing statement was rolled back with it
            assert await conn.fetchval("SELECT count(*) FROM things") == 0
        with pytest.raises(Exception):  # noqa: B017
            async with db.read() as conn:
                await conn.fetch("SELECT * FROM half")
    finally:
        await db.close()


async def test_newer_schema_is_refused(store_uri: str) -> None:
    db = await open_database(store_uri)
    try:
        await migrate(db, [both(V1), both(V2)])
        with pytest.raises(StoreConfigError, match="newer than this SPLP knows"):
            await migrate(db, [both(V1)])
        renamed = Migration(1, "other", V1.sqlite, V1.sqlite)
        with pytest.raises(StoreConfigError, match="was applied as 'things'"):
            await migrate(db, [renamed, both(V2)])
    finally:
        await db.close()


async def test_open_store_migrates_and_reopens(store_uri: str) -> None:
    store = await open_store(store_uri)
    tenant = await store.tenants.create(SYSTEM, TenantCreate(slug="nat", name="Nasional", kind="national"))
    await store.close()
    store = await open_store(store_uri)
    try:
        assert (await store.tenants.get(tenant.id)).slug == "nat"
        assert max(await applied_versions(store.db)) == len(MIGRATIONS)
    finally:
        await store.close()


async def test_bad_uri() -> None:
    with pytest.raises(StoreConfigError, match="unsupported catalog store"):
        await open_database("mysql://x/y")
    with pytest.raises(StoreConfigError, match="expected sqlite"):
        await open_database("sqlite://relative.db")


async def test_sqlite_file_is_private(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import stat

    store = await open_store(f"sqlite:///{tmp_path / 'deep' / 'er' / 'catalog.db'}")
    await store.close()
    assert stat.S_IMODE(os.stat(tmp_path / "deep" / "er" / "catalog.db").st_mode) == 0o600


async def test_control_api_processes_migrating_at_once_apply_each_migration_once(store_uri: str) -> None:
    """Two (here three) control-API processes start together on an empty catalog: the advisory lock on
    PostgreSQL (BEGIN IMMEDIATE on SQLite) lets one apply each migration; the others see it applied."""
    import asyncio
    import subprocess
    import sys

    code = "import asyncio, sys; from gateway.catalog.store import open_store\n"
    code += "async def main():\n    store = await open_store(sys.argv[1])\n    await store.close()\n"
    code += "asyncio.run(main())\n"
    processes = [
        subprocess.Popen([sys.executable, "-c", code, store_uri], stderr=subprocess.PIPE)  # noqa: ASYNC220
        for _ in range(3)
    ]
    results = await asyncio.gather(*(asyncio.to_thread(p.communicate, timeout=60) for p in processes))
    assert [p.returncode for p in processes] == [0, 0, 0], [err.decode()[-2000:] for _, err in results]
    db = await open_database(store_uri)
    try:
        applied = await applied_versions(db)
        async with db.read() as conn:
            rows = await conn.fetch("SELECT version FROM schema_version")
    finally:
        await db.close()
    assert sorted(applied) == [m.version for m in MIGRATIONS]
    assert len(rows) == len(MIGRATIONS)  # each version recorded once
    store = await open_store(store_uri)  # the schema is whole: a tenant can be created
    try:
        await store.tenants.create(SYSTEM, TenantCreate(slug="kominfo", name="Kominfo", kind="national"))
    finally:
        await store.close()
