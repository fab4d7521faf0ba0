"""The approval workflow on both engines, each kind required and not: settings per tenant, pending
objects, the queue, approve applies the change in the decision's transaction, reject keeps things as
they were (with the reason), a served API keeps its old definition while an update waits."""

from __future__ import annotations

import pytest

from gateway.catalog.api_models import ApiStatus, ApiUpdate, LifecycleAction
from gateway.catalog.apis import update_fields
from gateway.catalog.consumer_models import (
    ApprovalSettingsUpdate,
    ApprovalStatus,
    ConsumerStatus,
    SubscriptionCreate,
    Workflow,
)
from gateway.catalog.errors import Conflict, Invalid, NotFound
from gateway.catalog.export import consumer_configs, published_api_configs
from gateway.catalog.store import CatalogStore
from tests.gateway.catalog.consumers import app_named, world
from tests.gateway.catalog.test_apis import definition


async def test_settings_default_and_update(store: CatalogStore) -> None:
    w = await world(store)
    settings = await store.approvals.settings(w.ids["bap"])
    assert settings.model_dump() == {
        "tenant_id": w.ids["bap"],
        "api_state_change": False,
        "api_update": False,
        "application_creation": False,
        "subscription": False,
        "four_eyes": False,
        "updated_at": None,
    }
    changed = await store.approvals.update_settings(w.publisher, w.ids["bap"], ApprovalSettingsUpdate(api_update=True))
    assert changed.api_update and not changed.subscription and changed.updated_at
    again = await store.approvals.update_settings(w.publisher, w.ids["bap"], ApprovalSettingsUpdate(subscription=True))
    assert (again.api_update, again.subscription) == (True, True)
    assert await store.approvals.settings(w.ids["bap"]) == again
    assert not (await store.approvals.settings(w.ids["jabar"])).api_update  # per tenant
    with pytest.raises(NotFound):
        await store.approvals.settings("missing")
    trail = await store.audit.list(object_type="approval_settings")
    assert [e.after["subscription"] for e in trail] == [True, False]


async def test_application_creation(store: CatalogStore) -> None:
    w = await world(store)
    plain = await store.applications.create(w.developer, app_named("Plain"), tenant_id=w.ids["jabar"], tier="Unlimited")
    assert plain.status is ConsumerStatus.ACTIVE
    await store.approvals.update_settings(
        w.developer, w.ids["jabar"], ApprovalSettingsUpdate(application_creation=True)
    )
    first = await store.applications.create(w.developer, app_named("First"), tenant_id=w.ids["jabar"], tier="Unlimited")
    second = await store.applications.create(
        w.developer, app_named("Second"), tenant_id=w.ids["jabar"], tier="Unlimited"
    )
    assert first.status is second.status is ConsumerStatus.PENDING_APPROVAL
    assert {a.id for a in (await consumer_configs(store))[0]} == {plain.id}  # pending: not on gateways
    queue = await store.approvals.list(tenant_ids=[w.ids["jabar"]], status=ApprovalStatus.PENDING)
    assert [(r.kind, r.object_id, r.requested_by) for r in queue] == [
        (Workflow.APPLICATION_CREATION, first.id, w.developer.id),
        (Workflow.APPLICATION_CREATION, second.id, w.developer.id),
    ]
    assert await store.approvals.list(tenant_ids=[w.ids["bap"]]) == []
    approved = await store.approvals.approve(w.publisher, queue[0].id, "ok")
    assert (approved.status, approved.decided_by, approved.reason) == (ApprovalStatus.APPROVED, w.publisher.id, "ok")
    rejected = await store.approvals.reject(w.publisher, queue[1].id, "no business need")
    assert (rejected.status, rejected.reason, rejected.decided_by_name) == (
        ApprovalStatus.REJECTED,
        "no business need",
        "pub",
    )
    assert (await store.applications.get(first.id)).status is ConsumerStatus.ACTIVE
    assert (await store.applications.get(second.id)).status is ConsumerStatus.REJECTED
    assert {a.id for a in (await consumer_configs(store))[0]} == {plain.id, first.id}
    with pytest.raises(Conflict):  # decided once
        await store.approvals.approve(w.publisher, queue[1].id)
    assert (await store.approvals.get(queue[1].id)).status is ApprovalStatus.REJECTED
    actions = [e.action for e in await store.audit.list(object_type="approval")]
    assert actions == ["approval.reject", "approval.approve", "approval.request", "approval.request"]
    assert [e.action for e in await store.audit.list(object_id=second.id)] == [
        "application.reject",
        "application.create",
    ]


async def test_subscription_decided_by_api_owner(store: CatalogStore) -> None:
    w = await world(store)
    app = await store.applications.create(w.developer, app_named(), tenant_id=w.ids["jabar"], tier="Unlimited")
    await store.approvals.update_settings(w.publisher, w.ids["bap"], ApprovalSettingsUpdate(subscription=True))
    sub = await store.subscriptions.create(
        w.developer, SubscriptionCreate(application_id=app.id, api_id=w.api.id), viewer=None
    )
    assert sub.status is ConsumerStatus.PENDING_APPROVAL
    assert (await consumer_configs(store))[1] == []
    assert await store.approvals.list(tenant_ids=[w.ids["jabar"]]) == []  # the subscriber does not decide
    (request,) = await store.approvals.list(tenant_ids=[w.ids["bap"]], kind=Workflow.SUBSCRIPTION)
    assert request.payload["api"] == "/bappenas/pegawai/v1" and request.payload["application_id"] == app.id
    await store.approvals.approve(w.publisher, request.id)
    assert (await store.subscriptions.get(sub.id)).status is ConsumerStatus.ACTIVE
    assert [s.status for s in (await consumer_configs(store))[1]] == ["active"]
    # a second subscription, rejected; a third withdrawn by deleting it
    other_api = await store.apis.create(
        w.publisher, definition(context="/bappenas/gaji", visibility="public"), tenant_id=w.ids["bap"]
    )
    await store.apis.transition(w.publisher, other_api.id, LifecycleAction.PUBLISH)
    refused = await store.subscriptions.create(
        w.developer, SubscriptionCreate(application_id=app.id, api_id=other_api.id), viewer=None
    )
    (request,) = await store.approvals.list(tenant_ids=None, status=ApprovalStatus.PENDING)
    await store.approvals.reject(w.publisher, request.id, "data sharing agreement missing")
    assert (await store.subscriptions.get(refused.id)).status is ConsumerStatus.REJECTED
    await store.subscriptions.delete(w.developer, refused.id)
    again = await store.subscriptions.create(
        w.developer, SubscriptionCreate(application_id=app.id, api_id=other_api.id), viewer=None
    )
    await store.subscriptions.delete(w.developer, again.id)
    (withdrawn,) = await store.approvals.list(tenant_ids=None, status=ApprovalStatus.REJECTED, limit=1, offset=1)
    assert withdrawn.object_id == again.id and withdrawn.reason.startswith("withdrawn")


async def test_api_state_change(store: CatalogStore) -> None:
    w = await world(store)
    draft = await store.apis.create(w.publisher, definition(context="/bappenas/gaji"), tenant_id=w.ids["bap"])
    assert await store.approvals.hold_api_transition(w.publisher, draft.id, LifecycleAction.PUBLISH) is None
    await store.approvals.update_settings(w.publisher, w.ids["bap"], ApprovalSettingsUpdate(api_state_change=True))
    request = await store.approvals.hold_api_transition(w.publisher, draft.id, LifecycleAction.PUBLISH)
    assert request is not None and request.payload == {"action": "publish", "from": "CREATED"}
    assert (await store.apis.get(draft.id)).status is ApiStatus.CREATED
    assert [c.prefix for c in await published_api_configs(store)] == ["/bappenas/pegawai/v1"]
    with pytest.raises(Conflict, match="already waiting"):
        await store.approvals.hold_api_transition(w.publisher, draft.id, LifecycleAction.PUBLISH)
    with pytest.raises(Conflict, match="allowed"):  # refused at once, not queued
        await store.approvals.hold_api_transition(w.publisher, w.api.id, LifecycleAction.RETIRE)
    assert await store.approvals.hold_api_transition(w.publisher, w.api.id, LifecycleAction.BLOCK) is None
    await store.approvals.approve(w.publisher, request.id)
    assert (await store.apis.get(draft.id)).status is ApiStatus.PUBLISHED
    assert [c.prefix for c in await published_api_configs(store)] == ["/bappenas/gaji/v1", "/bappenas/pegawai/v1"]
    deprecate = await store.approvals.hold_api_transition(w.publisher, draft.id, LifecycleAction.DEPRECATE)
    assert deprecate is not None
    await store.approvals.reject(w.publisher, deprecate.id, "consumers not told yet")
    assert (await store.apis.get(draft.id)).status is ApiStatus.PUBLISHED
    # the API moved on before the approval: the approval fails, the request stays pending
    pending = await store.approvals.hold_api_transition(w.publisher, draft.id, LifecycleAction.DEPRECATE)
    assert pending is not None
    await store.apis.transition(w.publisher, draft.id, LifecycleAction.BLOCK)
    with pytest.raises(Conflict):
        await store.approvals.approve(w.publisher, pending.id)
    assert (await store.approvals.get(pending.id)).status is ApprovalStatus.PENDING


async def test_api_update_waits_while_old_definition_serves(store: CatalogStore) -> None:
    w = await world(store)
    served = update_fields(ApiUpdate(backend={"endpoints": ["http://10.9.9.9:80"]}, description="v2 backend"))
    assert await store.approvals.hold_api_update(w.publisher, w.api.id, served) is None  # not required yet
    await store.approvals.update_settings(w.publisher, w.ids["bap"], ApprovalSettingsUpdate(api_update=True))
    draft = await store.apis.create(w.publisher, definition(context="/bappenas/gaji"), tenant_id=w.ids["bap"])
    assert await store.approvals.hold_api_update(w.publisher, draft.id, served) is None  # not served: direct
    request = await store.approvals.hold_api_update(w.publisher, w.api.id, served)
    assert request is not None and request.payload == served
    (config,) = await published_api_configs(store)
    assert [str(e.url) for e in config.backend.endpoints] == ["http://10.0.0.5:9000/api"]
    assert (await store.apis.get(w.api.id)).description == "Data kepegawaian ASN"
    # a change is checked when asked, exactly as a direct update would be
    with pytest.raises(Conflict, match="context changes only while the API is CREATED"):
        await store.approvals.hold_api_update(w.publisher, w.api.id, {"context": "/elsewhere"})
    with pytest.raises(Invalid) as problem:
        await store.approvals.hold_api_update(w.publisher, w.api.id, {"resources": ["FETCH /x"]})
    assert problem.value.field == "resources"
    with pytest.raises(Conflict, match="already waiting"):
        await store.approvals.hold_api_update(w.publisher, w.api.id, {"description": "another"})
    await store.approvals.approve(w.publisher, request.id, "reviewed")
    (config,) = await published_api_configs(store)
    assert [str(e.url) for e in config.backend.endpoints] == ["http://10.9.9.9:80"]
    trail = await store.audit.list(object_type="api", object_id=w.api.id, limit=1)
    assert trail[0].action == "api.update" and trail[0].actor_id == w.publisher.id
