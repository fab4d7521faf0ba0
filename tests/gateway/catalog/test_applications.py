"""Applications on both engines: the client secret shown once and verifiable with keymanager.hashing,
API keys as sha256 hashes, revocation, block/unblock, delete with its subscriptions, audit without secrets."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from gateway.catalog.consumer_models import ApiKeyCreate, ApplicationUpdate, ConsumerStatus, SubscriptionCreate
from gateway.catalog.errors import Conflict, Invalid, NotFound
from gateway.catalog.store import CatalogStore
from keymanager.hashing import verify_secret
from tests.gateway.catalog.consumers import app_named, world


async def _stored_secret_hash(store: CatalogStore, application_id: str) -> str:
    async with store.db.read() as conn:
        return str(await conn.fetchval("SELECT client_secret_hash FROM applications WHERE id = $1", application_id))


async def test_create_secret_once_and_verifiable(store: CatalogStore) -> None:
    w = await world(store)
    created = await store.applications.create(
        w.developer, app_named(scopes=("read",)), tenant_id=w.ids["jabar"], tier="10PerMin"
    )
    assert (created.status, created.tenant, created.tier, created.owner_id) == (
        ConsumerStatus.ACTIVE,
        "jabar",
        "10PerMin",
        w.developer.id,
    )
    assert created.grant_types == ["client_credentials"] and created.scopes == ["read"] and created.keys == []
    stored = await _stored_secret_hash(store, created.id)
    assert stored.startswith("scrypt$") and created.client_secret not in stored
    assert verify_secret(created.client_secret, stored) and not verify_secret("guess", stored)
    fetched = await store.applications.get(created.id)
    assert "client_secret" not in fetched.model_dump()
    assert fetched.model_dump() == {k: v for k, v in created.model_dump().items() if k != "client_secret"}

    issued = await store.applications.regenerate_secret(w.developer, created.id)
    assert issued.client_id == created.id and issued.client_secret != created.client_secret
    stored = await _stored_secret_hash(store, created.id)
    assert verify_secret(issued.client_secret, stored) and not verify_secret(created.client_secret, stored)

    trail = await store.audit.list(object_type="application", object_id=created.id)
    assert [e.action for e in trail] == ["application.secret", "application.create"]
    dumped = orjson.dumps([e.model_dump() for e in trail]).decode()
    for secret in (created.client_secret, issued.client_secret, "scrypt$"):
        assert secret not in dumped


async def test_api_keys(store: CatalogStore) -> None:
    w = await world(store)
    app = await store.applications.create(w.developer, app_named(), tenant_id=w.ids["jabar"], tier="Unlimited")
    issued = await store.applications.create_key(w.developer, app.id, ApiKeyCreate(name="ci"))
    assert issued.prefix == issued.key[:8] and len(issued.key) >= 40 and not issued.revoked
    async with store.db.read() as conn:
        stored = await conn.fetchval("SELECT key_hash FROM application_keys WHERE id = $1", issued.id)
    assert stored == "sha256:" + hashlib.sha256(issued.key.encode()).hexdigest()
    listed = (await store.applications.get(app.id)).keys
    assert [k.id for k in listed] == [issued.id] and "key" not in listed[0].model_dump()
    with pytest.raises(Invalid):
        await store.applications.create_key(
            w.developer, app.id, ApiKeyCreate(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    later = await store.applications.create_key(
        w.developer, app.id, ApiKeyCreate(expires_at=datetime(2999, 1, 1, 7, tzinfo=UTC))
    )
    assert later.expires_at == "2999-01-01T07:00:00.000000Z"
    await store.applications.revoke_key(w.developer, app.id, issued.id)
    await store.applications.revoke_key(w.developer, app.id, issued.id)  # once is enough; twice is harmless
    keys = {k.id: k.revoked for k in (await store.applications.get(app.id)).keys}
    assert keys == {issued.id: True, later.id: False}
    with pytest.raises(NotFound):
        await store.applications.revoke_key(w.developer, app.id, "nope")
    other = await store.applications.create(w.developer, app_named("Other"), tenant_id=w.ids["jabar"], tier="Unlimited")
    with pytest.raises(NotFound):  # a key is revoked through its own application only
        await store.applications.revoke_key(w.developer, other.id, later.id)
    trail = await store.audit.list(object_type="application", object_id=app.id)
    assert [e.action for e in trail][:2] == ["application.key.revoke", "application.key.create"]
    assert issued.key not in orjson.dumps([e.model_dump() for e in trail]).decode()


async def test_update_block_delete(store: CatalogStore) -> None:
    w = await world(store)
    app = await store.applications.create(w.developer, app_named(), tenant_id=w.ids["jabar"], tier="Unlimited")
    with pytest.raises(Conflict):
        await store.applications.create(w.developer, app_named(), tenant_id=w.ids["jabar"], tier="Unlimited")
    changed = await store.applications.update(
        w.developer, app.id, ApplicationUpdate(description="HR", grant_types=("client_credentials", "password"))
    )
    assert (changed.description, changed.grant_types, changed.name) == (
        "HR",
        ["client_credentials", "password"],
        app.name,
    )
    assert (
        await store.applications.update(w.developer, app.id, ApplicationUpdate(), tier="20PerMin")
    ).tier == "20PerMin"
    blocked = await store.applications.block(w.publisher, app.id)
    assert blocked.status is ConsumerStatus.BLOCKED
    with pytest.raises(Conflict):
        await store.applications.block(w.publisher, app.id)
    assert (await store.applications.unblock(w.publisher, app.id)).status is ConsumerStatus.ACTIVE
    sub = await store.subscriptions.create(
        w.developer, SubscriptionCreate(application_id=app.id, api_id=w.api.id), viewer=None
    )
    await store.applications.create_key(w.developer, app.id, ApiKeyCreate())
    await store.applications.delete(w.developer, app.id)
    with pytest.raises(NotFound):
        await store.applications.get(app.id)
    with pytest.raises(NotFound):
        await store.subscriptions.get(sub.id)
    assert [e.action for e in await store.audit.list(object_type="subscription", object_id=sub.id)] == [
        "subscription.delete",
        "subscription.create",
    ]
    assert [a.name for a in await store.applications.list(tenant_ids=[w.ids["jabar"]])] == []


async def test_list_by_tenant_and_tenant_delete_guard(store: CatalogStore) -> None:
    w = await world(store)
    await store.applications.create(w.developer, app_named("B"), tenant_id=w.ids["jabar"], tier="Unlimited")
    await store.applications.create(w.publisher, app_named("A"), tenant_id=w.ids["unit"], tier="Unlimited")
    assert [a.name for a in await store.applications.list(tenant_ids=None)] == ["A", "B"]
    assert [a.name for a in await store.applications.list(tenant_ids=[w.ids["jabar"]])] == ["B"]
    assert await store.applications.list(tenant_ids=[]) == []
    assert [a.name for a in await store.applications.list(tenant_ids=None, status=ConsumerStatus.BLOCKED)] == []
    with pytest.raises(Conflict, match="applications"):
        await store.tenants.delete(w.developer, w.ids["unit"])
