"""Subscriptions of applications to APIs.

Two tenants see a subscription: the application's (it subscribes and unsubscribes) and the API
owner's (it blocks and unblocks: tenant admins and publishers). Everybody else: 404. New subscriptions
go from an ACTIVE application of my scope to a PUBLISHED API I can see in the catalog (else 422 / 409),
with one of the gateway's subscription tiers (tiers.subscription). When the API owner's tenant requires
approval for subscriptions the new one is PENDING_APPROVAL until its administrators decide.
"""

from __future__ import annotations

from gateway.catalog.consumer_models import ConsumerStatus, Subscription, SubscriptionCreate
from gateway.catalog.errors import Invalid, NotFound
from gateway.control import errors
from gateway.control.endpoints import PAGING, Call, Endpoint, Page, QueryParam, query_enum
from gateway.control.errors import ApiError
from gateway.control.routes.apis import WRITERS, viewer_of
from gateway.control.routes.applications import CONSUMERS, checked_tier


async def _visible(call: Call) -> Subscription:
    subscription_id = call.path("id")
    subscription = await call.store.subscriptions.get(subscription_id)
    principal = call.principal
    if not (principal.sees(subscription.application_tenant_id) or principal.sees(subscription.api_tenant_id)):
        raise NotFound(subscription_id)
    return subscription


async def list_subscriptions(call: Call) -> Page:
    limit, offset = call.query["limit"], call.query["offset"]
    items = await call.store.subscriptions.list(
        tenant_ids=call.principal.scoped_ids(),
        application_id=call.query["application_id"],
        api_id=call.query["api_id"],
        status=query_enum(call, "status", ConsumerStatus),
        limit=limit,
        offset=offset,
    )
    return Page(items, limit, offset)


async def create_subscription(call: Call) -> Subscription:
    body: SubscriptionCreate = call.body
    try:
        application = await call.store.applications.get(body.application_id)
    except NotFound:
        raise Invalid("application_id", "no such application") from None
    if not call.principal.sees(application.tenant_id):
        raise Invalid("application_id", "no such application")
    await checked_tier(call, body.tier, "subscription")
    return await call.store.subscriptions.create(call.principal.actor, body, viewer=await viewer_of(call))


async def get_subscription(call: Call) -> Subscription:
    return await _visible(call)


async def delete_subscription(call: Call) -> None:
    subscription = await _visible(call)
    if not call.principal.sees(subscription.application_tenant_id):
        raise ApiError(errors.FORBIDDEN, "only the application's institution unsubscribes; the API owner blocks")
    await call.store.subscriptions.delete(call.principal.actor, subscription.id)


async def _owned(call: Call) -> Subscription:
    subscription = await _visible(call)
    if not call.principal.sees(subscription.api_tenant_id):
        raise ApiError(errors.FORBIDDEN, "only the API owner's institution blocks or unblocks its subscribers")
    return subscription


async def block_subscription(call: Call) -> Subscription:
    subscription = await _owned(call)
    return await call.store.subscriptions.block(call.principal.actor, subscription.id)


async def unblock_subscription(call: Call) -> Subscription:
    subscription = await _owned(call)
    return await call.store.subscriptions.unblock(call.principal.actor, subscription.id)


_TAG = "subscriptions"
_ID = "/api/v1/subscriptions/{id}"
ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/subscriptions",
        list_subscriptions,
        "Subscriptions of my applications and to my APIs",
        _TAG,
        response=Subscription,
        many=True,
        query=(
            QueryParam("application_id", "Only this application's."),
            QueryParam("api_id", "Only the subscriptions to this API."),
            QueryParam("status", "ACTIVE, PENDING_APPROVAL, REJECTED or BLOCKED."),
            *PAGING,
        ),
    ),
    Endpoint(
        "POST",
        "/api/v1/subscriptions",
        create_subscription,
        "Subscribe an application to a PUBLISHED API with a tier",
        _TAG,
        roles=CONSUMERS,
        body=SubscriptionCreate,
        response=Subscription,
        status=201,
        description="ACTIVE, or PENDING_APPROVAL when the API owner's tenant requires approval. An application or "
        "API I cannot see, or an unknown tier: 422. Not PUBLISHED, application not ACTIVE, already subscribed: 409.",
    ),
    Endpoint("GET", _ID, get_subscription, "One subscription", _TAG, response=Subscription),
    Endpoint(
        "DELETE",
        _ID,
        delete_subscription,
        "Unsubscribe (the application's institution)",
        _TAG,
        roles=CONSUMERS,
        status=204,
    ),
    Endpoint(
        "POST",
        _ID + "/block",
        block_subscription,
        "Block an ACTIVE subscription (the API owner's tenant_admin or publisher)",
        _TAG,
        roles=WRITERS,
        response=Subscription,
    ),
    Endpoint(
        "POST",
        _ID + "/unblock",
        unblock_subscription,
        "Unblock a BLOCKED subscription (the API owner's tenant_admin or publisher)",
        _TAG,
        roles=WRITERS,
        response=Subscription,
    ),
)
