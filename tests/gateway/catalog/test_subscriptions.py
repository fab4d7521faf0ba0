"""Subscriptions on both engines: only ACTIVE applications to PUBLISHED APIs the subscriber sees, one per
(application, API), block/unblock, listing from either side, and the export for gateways."""

from __future__ import annotations

import pytest

from gateway.catalog.api_models import LifecycleAction, Visibility
from gateway.catalog.consumer_models import ApiKeyCreate, ConsumerStatus, SubscriptionCreate
from gateway.catalog.errors import Conflict, Invalid
from gateway.catalog.export import consumer_configs
from gateway.catalog.store import CatalogStore
from gateway.catalog.visibility import Viewer
from gateway.config.consumers import ApplicationConfig, SubscriptionConfig
from keymanager.hashing import hash_api_key
from tests.gateway.catalog.consumers import app_named, world
from tests.gateway.catalog.test_apis import definition


async def test_subscribe_rules(store: CatalogStore) -> None:
    w = await world(store)
    jabar = Viewer(frozenset({w.ids["jabar"]}), (w.ids["jabar"], w.ids["nat"]))
    app = await store.applications.create(w.developer, app_named(), tenant_id=w.ids["jabar"], tier="Unlimited")
    sub = await store.subscriptions.create(
        w.developer, SubscriptionCreate(application_id=app.id, api_id=w.api.id, tier="Gold"), viewer=jabar
    )
    assert (sub.status, sub.api, sub.tier, sub.application, sub.api_tenant_id, sub.application_tenant_id) == (
        ConsumerStatus.ACTIVE,
        "/bappenas/pegawai/v1",
        "Gold",
        app.name,
        w.ids["bap"],
        w.ids["jabar"],
    )
    with pytest.raises(Conflict, match="already subscribes"):
        await store.subscriptions.create(
            w.developer, SubscriptionCreate(application_id=app.id, api_id=w.api.id), viewer=jabar
        )
    private = await store.apis.create(
        w.publisher, definition(context="/bappenas/gaji", visibility=Visibility.TENANT), tenant_id=w.ids["bap"]
    )
    await store.apis.transition(w.publisher, private.id, LifecycleAction.PUBLISH)
    with pytest.raises(Invalid, match="api_id"):  # jabar cannot see a tenant-only API of bappenas
        await store.subscriptions.create(
            w.developer, SubscriptionCreate(application_id=app.id, api_id=private.id), viewer=jabar
        )
    with pytest.raises(Invalid, match="api_id"):
        await store.subscriptions.create(
            w.developer, SubscriptionCreate(application_id=app.id, api_id="missing"), viewer=jabar
        )
    draft = await store.apis.create(
        w.publisher, definition(context="/bappenas/draft", visibility=Visibility.PUBLIC), tenant_id=w.ids["bap"]
    )
    with pytest.raises(Conflict, match="PUBLISHED"):
        await store.subscriptions.create(
            w.developer, SubscriptionCreate(application_id=app.id, api_id=draft.id), viewer=jabar
        )
    await store.applications.block(w.publisher, app.id)
    await store.apis.transition(w.publisher, draft.id, LifecycleAction.PUBLISH)
    with pytest.raises(Conflict, match="ACTIVE"):
        await store.subscriptions.create(
            w.developer, SubscriptionCreate(application_id=app.id, api_id=draft.id), viewer=jabar
        )


async def test_block_list_delete(store: CatalogStore) -> None:
    w = await world(store)
    app = await store.applications.create(w.developer, app_named(), tenant_id=w.ids["jabar"], tier="Unlimited")
    sub = await store.subscriptions.create(
        w.developer, SubscriptionCreate(application_id=app.id, api_id=w.api.id), viewer=None
    )
    blocked = await store.subscriptions.block(w.publisher, sub.id)
    assert blocked.status is ConsumerStatus.BLOCKED
    with pytest.raises(Conflict):
        await store.subscriptions.block(w.publisher, sub.id)
    for side in ("jabar", "bap"):  # the subscriber's and the API owner's tenant both list it
        assert [s.id for s in await store.subscriptions.list(tenant_ids=[w.ids[side]])] == [sub.id]
    assert await store.subscriptions.list(tenant_ids=[w.ids["unit"]]) == []
    assert await store.subscriptions.list(tenant_ids=None, status=ConsumerStatus.ACTIVE) == []
    assert [s.id for s in await store.subscriptions.list(tenant_ids=None, api_id=w.api.id)] == [sub.id]
    assert (await store.subscriptions.unblock(w.publisher, sub.id)).status is ConsumerStatus.ACTIVE
    await store.subscriptions.delete(w.developer, sub.id)
    assert await store.subscriptions.list(tenant_ids=None) == []
    trail = await store.audit.list(object_type="subscription", object_id=sub.id)
    assert [e.action for e in trail] == [
        "subscription.delete",
        "subscription.unblock",
        "subscription.block",
        "subscription.create",
    ]
    assert {e.tenant_id for e in trail} == {w.ids["jabar"]}


async def test_consumer_configs(store: CatalogStore) -> None:
    w = await world(store)
    active = await store.applications.create(
        w.developer, app_named("Active", scopes=("read",)), tenant_id=w.ids["jabar"], tier="20PerMin"
    )
    blocked = await store.applications.create(
        w.developer, app_named("Blocked"), tenant_id=w.ids["jabar"], tier="Unlimited"
    )
    key = await store.applications.create_key(w.developer, active.id, ApiKeyCreate())
    revoked = await store.applications.create_key(w.developer, active.id, ApiKeyCreate())
    await store.applications.revoke_key(w.developer, active.id, revoked.id)
    expired = await store.applications.create_key(w.developer, active.id, ApiKeyCreate())
    async with store.db.transaction() as conn:  # time passes: the key's expiry is behind us
        await conn.execute(
            "UPDATE application_keys SET expires_at = $2 WHERE id = $1", expired.id, "2000-01-01T00:00:00.000000Z"
        )
    second_api = await store.apis.create(
        w.publisher, definition(context="/bappenas/gaji", visibility=Visibility.PUBLIC), tenant_id=w.ids["bap"]
    )
    await store.apis.transition(w.publisher, second_api.id, LifecycleAction.PUBLISH)
    s1 = await store.subscriptions.create(
        w.developer, SubscriptionCreate(application_id=active.id, api_id=w.api.id, tier="Gold"), viewer=None
    )
    await store.subscriptions.create(
        w.developer, SubscriptionCreate(application_id=active.id, api_id=second_api.id), viewer=None
    )
    await store.subscriptions.create(
        w.developer, SubscriptionCreate(application_id=blocked.id, api_id=w.api.id), viewer=None
    )
    await store.subscriptions.block(w.publisher, s1.id)
    await store.applications.block(w.publisher, blocked.id)

    apps, subs = await consumer_configs(store)
    by_id = {a.id: a for a in apps}
    assert set(by_id) == {active.id, blocked.id}
    async with store.db.read() as conn:
        secret_hash = await conn.fetchval("SELECT client_secret_hash FROM applications WHERE id = $1", active.id)
    assert by_id[active.id] == ApplicationConfig(
        id=active.id,
        name="Active",
        tenant="jabar",
        owner="dev",
        tier="20PerMin",
        blocked=False,
        client_secret_hash=secret_hash,
        grant_types=("client_credentials",),
        scopes=("read",),
        api_keys=(hash_api_key(key.key),),
    )
    assert by_id[blocked.id].blocked and by_id[blocked.id].api_keys == ()
    assert sorted(subs, key=lambda s: (s.application, s.api)) == sorted(
        [
            SubscriptionConfig(application=active.id, api="/bappenas/pegawai/v1", tier="Gold", status="blocked"),
            SubscriptionConfig(application=active.id, api="/bappenas/gaji/v1", tier="Unlimited", status="active"),
            SubscriptionConfig(application=blocked.id, api="/bappenas/pegawai/v1", tier="Unlimited", status="active"),
        ],
        key=lambda s: (s.application, s.api),
    )
