"""Tenants, users and the audit log on both engines: the tree, uniqueness, updates, audit in the same transaction."""

from __future__ import annotations

import pytest

from gateway.catalog.audit import Actor
from gateway.catalog.errors import Conflict, Invalid, NotFound
from gateway.catalog.models import Role, TenantCreate, TenantProfile, TenantUpdate
from gateway.catalog.store import CatalogStore

SYSTEM = Actor.system("test")


async def tree(store: CatalogStore) -> dict[str, str]:
    nat = await store.tenants.create(SYSTEM, TenantCreate(slug="kominfo", name="Kominfo", kind="national"))
    bap = await store.tenants.create(
        SYSTEM, TenantCreate(slug="bappenas", name="Bappenas", kind="ministry", parent_id=nat.id)
    )
    unit = await store.tenants.create(
        SYSTEM, TenantCreate(slug="bappenas-pusdatin", name="Pusdatin", kind="unit", parent_id=bap.id)
    )
    jabar = await store.tenants.create(
        SYSTEM, TenantCreate(slug="jabar", name="Jawa Barat", kind="province", parent_id=nat.id)
    )
    return {"nat": nat.id, "bap": bap.id, "unit": unit.id, "jabar": jabar.id}


async def test_tenant_tree(store: CatalogStore) -> None:
    ids = await tree(store)
    assert sorted(await store.tenants.subtree(ids["bap"])) == sorted([ids["bap"], ids["unit"]])
    assert await store.tenants.ancestors(ids["unit"]) == [ids["unit"], ids["bap"], ids["nat"]]
    assert [t.slug for t in await store.tenants.list(parent_id=ids["nat"])] == ["bappenas", "jabar"]
    assert [t.slug for t in await store.tenants.list(ids=[ids["unit"], ids["jabar"]])] == ["jabar", "bappenas-pusdatin"]
    assert await store.tenants.subtree("nope") == []
    assert await store.tenants.count() == 4
    page = await store.tenants.list(limit=2, offset=1)
    assert [t.slug for t in page] == ["jabar", "kominfo"]


async def test_tenant_rules(store: CatalogStore) -> None:
    ids = await tree(store)
    with pytest.raises(Conflict, match="national tenant already exists"):
        await store.tenants.create(SYSTEM, TenantCreate(slug="other", name="Other", kind="national"))
    with pytest.raises(Invalid) as err:
        await store.tenants.create(SYSTEM, TenantCreate(slug="orphan", name="Orphan", kind="unit"))
    assert err.value.field == "parent_id"
    with pytest.raises(Invalid, match="no such tenant"):
        await store.tenants.create(SYSTEM, TenantCreate(slug="x", name="X", kind="unit", parent_id="missing"))
    with pytest.raises(Conflict, match="slug"):
        await store.tenants.create(
            SYSTEM, TenantCreate(slug="jabar", name="Again", kind="province", parent_id=ids["nat"])
        )
    with pytest.raises(Conflict, match="child tenants"):
        await store.tenants.delete(SYSTEM, ids["bap"])
    await store.tenants.delete(SYSTEM, ids["unit"])
    with pytest.raises(NotFound):
        await store.tenants.get(ids["unit"])
    await store.tenants.update(SYSTEM, ids["jabar"], TenantUpdate(active=False))
    with pytest.raises(Invalid, match="inactive"):
        await store.tenants.create(
            SYSTEM, TenantCreate(slug="bdg", name="Bandung", kind="city", parent_id=ids["jabar"])
        )


async def test_tenant_update_and_audit(store: CatalogStore) -> None:
    ids = await tree(store)
    actor = Actor("u-1", "alice", ids["bap"])
    updated = await store.tenants.update(actor, ids["bap"], TenantProfile(description="Perencanaan", phone="021"))
    assert (updated.description, updated.phone, updated.name) == ("Perencanaan", "021", "Bappenas")
    assert await store.tenants.get(ids["bap"]) == updated
    entry = (await store.audit.list(object_type="tenant", object_id=ids["bap"]))[0]
    assert (entry.action, entry.actor_id, entry.actor_name, entry.actor_tenant_id) == (
        "tenant.update",
        "u-1",
        "alice",
        ids["bap"],
    )
    assert entry.before is not None and entry.after is not None
    assert (entry.before["description"], entry.after["description"]) == ("", "Perencanaan")
    assert [e.action for e in await store.audit.list(tenant_ids=[ids["bap"]])] == ["tenant.update", "tenant.create"]
    assert await store.audit.list(tenant_ids=[]) == []


async def test_users(store: CatalogStore) -> None:
    ids = await tree(store)
    user = await store.users.create(
        SYSTEM, tenant_id=ids["bap"], username="Budi", role=Role.PUBLISHER, password_hash="scrypt$h", email="b@x.id"
    )
    assert user.username == "budi"
    with pytest.raises(Conflict, match="username"):
        await store.users.create(SYSTEM, tenant_id=ids["nat"], username="budi", role=Role.AUDITOR, password_hash="h")
    with pytest.raises(Invalid, match="no such tenant"):
        await store.users.create(SYSTEM, tenant_id="missing", username="x1", role=Role.AUDITOR, password_hash="h")
    creds = await store.users.credentials(username="BUDI")
    assert creds is not None and (creds.password_hash, creds.session_version, creds.tenant_active) == (
        "scrypt$h",
        1,
        True,
    )
    assert creds.user == user
    assert await store.users.credentials(username="nobody") is None

    changed = await store.users.update(SYSTEM, user.id, {"role": Role.TENANT_ADMIN, "full_name": "Budi S"})
    assert (changed.role, changed.full_name) == (Role.TENANT_ADMIN, "Budi S")
    assert (await store.users.credentials(user_id=user.id)).session_version == 1  # type: ignore[union-attr]
    await store.users.update(SYSTEM, user.id, {}, password_hash="scrypt$new")
    creds = await store.users.credentials(user_id=user.id)
    assert creds is not None and (creds.password_hash, creds.session_version) == ("scrypt$new", 2)
    await store.users.update(SYSTEM, user.id, {"active": False})
    creds = await store.users.credentials(user_id=user.id)
    assert creds is not None and (creds.user.active, creds.session_version) == (False, 3)

    await store.users.create(SYSTEM, tenant_id=ids["unit"], username="ani", role=Role.SUBSCRIBER, password_hash="h")
    assert [u.username for u in await store.users.list(tenant_ids=[ids["bap"], ids["unit"]])] == ["ani", "budi"]
    assert [u.username for u in await store.users.list(tenant_ids=[ids["bap"]])] == ["budi"]
    assert await store.users.count() == 2 and await store.users.count(role=Role.SUBSCRIBER) == 1
    with pytest.raises(Conflict, match="has users"):
        await store.tenants.delete(SYSTEM, ids["unit"])

    await store.users.delete(SYSTEM, user.id)
    with pytest.raises(NotFound):
        await store.users.get(user.id)
    actions = [e.action for e in await store.audit.list(object_type="user", object_id=user.id)]
    assert actions == ["user.delete", "user.update", "user.password", "user.update", "user.create"]
    for entry in await store.audit.list(object_type="user"):
        for snapshot in (entry.before, entry.after):
            assert snapshot is None or "password_hash" not in snapshot


async def test_failed_write_rolls_back_change_and_audit(store: CatalogStore) -> None:
    ids = await tree(store)
    before = await store.audit.list()

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with store.db.transaction() as conn:
            await conn.execute("UPDATE tenants SET name = $1 WHERE id = $2", "Changed", ids["bap"])
            await conn.execute(
                "INSERT INTO audit_log (at, actor_name, action, object_type, object_id) VALUES ($1, $2, $3, $4, $5)",
                "t",
                "x",
                "tenant.update",
                "tenant",
                ids["bap"],
            )
            raise Boom
    assert (await store.tenants.get(ids["bap"])).name == "Bappenas"
    assert await store.audit.list() == before
