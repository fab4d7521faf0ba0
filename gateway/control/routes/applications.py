"""Applications (OAuth clients), their API keys and client secret.

Reading: any signed-in user, for the applications of their scope (their tenant and its units; super
admins: all); others answer 404. Creating: subscribers, publishers, tenant admins and super admins of
that scope (auditors read only: 403). Changing, deleting, keys and secrets: the application's owner
(its creator) and the users it is shared with, or an administrator of the scope; other subscribers and
publishers get 403. Sharing: the owner or an administrator. Blocking and unblocking: administrators.
Secrets are in the answer of the call that makes them, once: creating an application, regenerating
its secret, creating an API key. Tiers are the gateway's application tiers (tiers.application).
"""

from __future__ import annotations

from gateway.catalog.consumer_models import (
    ApiKeyCreate,
    ApiKeyIssued,
    Application,
    ApplicationCreate,
    ApplicationCreated,
    ApplicationShare,
    ApplicationUpdate,
    ConsumerStatus,
    SecretIssued,
)
from gateway.catalog.errors import Invalid, NotFound
from gateway.catalog.export import catalog_tiers
from gateway.catalog.models import Role
from gateway.config.tiers import Tier
from gateway.control import errors
from gateway.control.access import ADMINS
from gateway.control.endpoints import PAGING, Call, Endpoint, Page, QueryParam, query_enum
from gateway.control.errors import ApiError

CONSUMERS = frozenset({Role.SUPER_ADMIN, Role.TENANT_ADMIN, Role.PUBLISHER, Role.SUBSCRIBER})


async def checked_tier(call: Call, name: str, kind: str) -> str:
    """`name` when it is a tier of `kind` (application or subscription) in the gateway's config or set
    through the control API; else Invalid on the body's `tier`."""
    everything = await catalog_tiers(call.store, call.services.tiers) or call.services.tiers
    tiers: dict[str, Tier] = getattr(everything, kind)
    if name not in tiers:
        raise Invalid("tier", f"no {kind} tier {name!r}; configured: {', '.join(tiers) or 'none'}")
    return name


def checked_key_managers(call: Call, names: tuple[str, ...] | None) -> None:
    """Invalid on the body's `key_managers` when it names a key manager gateway.yaml does not declare (the
    default, resident, is not checked: it simply never matches a gateway without one)."""
    declared = call.services.key_managers
    if names is None or declared is None:
        return
    unknown = [name for name in names if name not in declared]
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise Invalid("key_managers", f"no key manager {', '.join(unknown)}; declared: {known}")


async def _visible(call: Call) -> Application:
    application_id = call.path("id")
    application = await call.store.applications.get(application_id)
    if not call.principal.sees(application.tenant_id):
        raise NotFound(application_id)
    return application


async def _actable(call: Call) -> Application:
    """A visible application the caller may change: administrators act on all of their scope's, others
    only on those they own or that are shared with them (403)."""
    application = await _visible(call)
    principal = call.principal
    if principal.role not in ADMINS and principal.user.id not in (application.owner_id, *application.shared_with):
        raise ApiError(errors.FORBIDDEN, "only its owner, the users it is shared with, or an administrator")
    return application


async def _owned(call: Call) -> Application:
    """A visible application whose sharing the caller may change: its owner's or an administrator's."""
    application = await _visible(call)
    principal = call.principal
    if principal.role not in ADMINS and principal.user.id != application.owner_id:
        raise ApiError(errors.FORBIDDEN, "only its owner or an administrator may share it")
    return application


async def list_applications(call: Call) -> Page:
    limit, offset = call.query["limit"], call.query["offset"]
    scope = call.principal.scoped_ids()
    tenant_id = call.query["tenant_id"]
    if tenant_id is not None:
        scope = [tenant_id] if call.principal.sees(tenant_id) else []
    items = await call.store.applications.list(
        tenant_ids=scope, status=query_enum(call, "status", ConsumerStatus), limit=limit, offset=offset
    )
    return Page(items, limit, offset)


async def create_application(call: Call) -> ApplicationCreated:
    body: ApplicationCreate = call.body
    principal = call.principal
    tenant_id = body.tenant_id or principal.tenant_id
    if not principal.sees(tenant_id):
        raise Invalid("tenant_id", "no such tenant")
    tier = await checked_tier(call, body.tier or "Unlimited", "application")
    checked_key_managers(call, body.key_managers if "key_managers" in body.model_fields_set else None)
    return await call.store.applications.create(principal.actor, body, tenant_id=tenant_id, tier=tier)


async def get_application(call: Call) -> Application:
    return await _visible(call)


async def update_application(call: Call) -> Application:
    body: ApplicationUpdate = call.body
    application = await _actable(call)
    tier = await checked_tier(call, body.tier, "application") if body.tier else None
    checked_key_managers(call, body.key_managers)
    return await call.store.applications.update(call.principal.actor, application.id, body, tier=tier)


async def delete_application(call: Call) -> None:
    application = await _actable(call)
    await call.store.applications.delete(call.principal.actor, application.id)


async def create_key(call: Call) -> ApiKeyIssued:
    application = await _actable(call)
    body: ApiKeyCreate = call.body
    return await call.store.applications.create_key(call.principal.actor, application.id, body)


async def revoke_key(call: Call) -> None:
    application = await _actable(call)
    await call.store.applications.revoke_key(call.principal.actor, application.id, call.path("key_id"))


async def regenerate_secret(call: Call) -> SecretIssued:
    application = await _actable(call)
    return await call.store.applications.regenerate_secret(call.principal.actor, application.id)


async def block_application(call: Call) -> Application:
    application = await _visible(call)
    return await call.store.applications.block(call.principal.actor, application.id)


async def unblock_application(call: Call) -> Application:
    application = await _visible(call)
    return await call.store.applications.unblock(call.principal.actor, application.id)


async def share_application(call: Call) -> Application:
    body: ApplicationShare = call.body
    application = await _owned(call)
    return await call.store.applications.share(call.principal.actor, application.id, body.user_id)


async def unshare_application(call: Call) -> None:
    application = await _owned(call)
    await call.store.applications.unshare(call.principal.actor, application.id, call.path("user_id"))


_TAG = "applications"
_ID = "/api/v1/applications/{id}"
ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/applications",
        list_applications,
        "Applications of my scope",
        _TAG,
        response=Application,
        many=True,
        query=(
            QueryParam("tenant_id", "Only the applications of this tenant."),
            QueryParam("status", "ACTIVE, PENDING_APPROVAL, REJECTED or BLOCKED."),
            *PAGING,
        ),
    ),
    Endpoint(
        "POST",
        "/api/v1/applications",
        create_application,
        "Create an application; its client secret is in this answer only",
        _TAG,
        roles=CONSUMERS,
        body=ApplicationCreate,
        response=ApplicationCreated,
        status=201,
        description="The id is the OAuth client id. Status ACTIVE, or PENDING_APPROVAL when the tenant requires "
        "approval for new applications. Unknown tier: 422; duplicate name in the tenant: 409.",
    ),
    Endpoint(
        "GET",
        _ID,
        get_application,
        "One application, with its API keys (never the keys themselves)",
        _TAG,
        response=Application,
    ),
    Endpoint(
        "PUT",
        _ID,
        update_application,
        "Change an application (fields sent replace the stored ones)",
        _TAG,
        roles=CONSUMERS,
        body=ApplicationUpdate,
        response=Application,
    ),
    Endpoint(
        "DELETE",
        _ID,
        delete_application,
        "Delete an application with its keys and subscriptions",
        _TAG,
        roles=CONSUMERS,
        status=204,
    ),
    Endpoint(
        "POST",
        _ID + "/keys",
        create_key,
        "New API key; the key is in this answer only (stored as its sha256 hash)",
        _TAG,
        roles=CONSUMERS,
        body=ApiKeyCreate,
        response=ApiKeyIssued,
        status=201,
    ),
    Endpoint("DELETE", _ID + "/keys/{key_id}", revoke_key, "Revoke an API key", _TAG, roles=CONSUMERS, status=204),
    Endpoint(
        "POST",
        _ID + "/secret",
        regenerate_secret,
        "New client secret (in this answer only); the old one stops working",
        _TAG,
        roles=CONSUMERS,
        response=SecretIssued,
    ),
    Endpoint(
        "POST",
        _ID + "/shares",
        share_application,
        "Share an application with a user of its tenant: they may then act on it like its owner",
        _TAG,
        roles=CONSUMERS,
        body=ApplicationShare,
        response=Application,
        description="The owner or an administrator. Shared users may change it, rotate its secret and keys, and "
        "delete it; they may not share it further.",
    ),
    Endpoint(
        "DELETE",
        _ID + "/shares/{user_id}",
        unshare_application,
        "Stop sharing an application with a user",
        _TAG,
        roles=CONSUMERS,
        status=204,
    ),
    Endpoint(
        "POST",
        _ID + "/block",
        block_application,
        "Block an ACTIVE application: gateways refuse it (tenant_admin, super_admin)",
        _TAG,
        roles=ADMINS,
        response=Application,
    ),
    Endpoint(
        "POST",
        _ID + "/unblock",
        unblock_application,
        "Unblock a BLOCKED application (tenant_admin, super_admin)",
        _TAG,
        roles=ADMINS,
        response=Application,
    ),
)
