"""APIs: create, read, change, delete, lifecycle, new versions.

Reading: any signed-in user, for the APIs visibility lets them see (gateway/catalog/visibility.py);
others answer 404. Outside the owner's scope `backend`, `policies` and `visible_tenants` are hidden.
Writing: publishers, tenant admins and super admins whose scope holds the owner tenant (an API the
caller sees but does not manage: 403). Blocking and unblocking: tenant admins and super admins.
When the owner tenant requires approval (routes/approvals.py), publish/deprecate/retire and changes to a
served API answer 202 with the approval request instead; the API stays as it is until approved.
"""

from __future__ import annotations

from starlette.responses import Response

from gateway.catalog.api_models import (
    Api,
    ApiCreate,
    ApiStatus,
    ApiUpdate,
    ApiVersionCreate,
    LifecycleAction,
    LifecycleChange,
)
from gateway.catalog.apis import update_fields
from gateway.catalog.consumer_models import ApprovalRequest
from gateway.catalog.errors import Invalid, NotFound
from gateway.catalog.models import Role
from gateway.catalog.visibility import Viewer
from gateway.control import errors
from gateway.control.access import ADMINS, Principal
from gateway.control.endpoints import PAGING, Call, Endpoint, Page, QueryParam, accepted
from gateway.control.errors import ApiError

WRITERS = frozenset({Role.SUPER_ADMIN, Role.TENANT_ADMIN, Role.PUBLISHER})


async def viewer_of(call: Call) -> Viewer:
    principal = call.principal
    return Viewer(principal.scope, tuple(await call.store.tenants.ancestors(principal.tenant_id)))


def shown(api: Api, principal: Principal) -> Api:
    if principal.sees(api.tenant_id):
        return api
    return api.model_copy(update={"backend": None, "policies": None, "visible_tenants": []})


async def visible_api(call: Call) -> Api:
    """The API of the path's {id}, if the caller may see it (else NotFound, as if absent)."""
    api_id = call.path("id")
    api = await call.store.apis.get(api_id)
    if not (await viewer_of(call)).sees(api):
        raise NotFound(api_id)
    return api


async def managed_api(call: Call) -> Api:
    """The API of the path's {id}, if the caller may change it (seen but not managed: 403)."""
    api = await visible_api(call)
    if not call.principal.sees(api.tenant_id):
        raise ApiError(errors.FORBIDDEN, "the API belongs to another institution; only its own may change it")
    return api


async def list_apis(call: Call) -> Page:
    limit, offset = call.query["limit"], call.query["offset"]
    status = call.query["status"]
    try:
        state = ApiStatus(status) if status else None
    except ValueError:
        raise errors.invalid(
            [{"loc": ["query", "status"], "msg": f"expected one of {', '.join(ApiStatus)}", "type": "enum"}]
        ) from None
    items = await call.store.apis.list(
        await viewer_of(call), tenant_id=call.query["tenant_id"], status=state, limit=limit, offset=offset
    )
    return Page([shown(api, call.principal) for api in items], limit, offset)


async def create_api(call: Call) -> Api:
    body: ApiCreate = call.body
    principal = call.principal
    tenant_id = body.tenant_id or principal.tenant_id
    if not principal.sees(tenant_id):
        raise Invalid("tenant_id", "no such tenant")
    return await call.store.apis.create(principal.actor, body, tenant_id=tenant_id)


async def get_api(call: Call) -> Api:
    return shown(await visible_api(call), call.principal)


async def update_api(call: Call) -> Api | Response:
    api = await managed_api(call)
    held = await call.store.approvals.hold_api_update(call.principal.actor, api.id, update_fields(call.body))
    if held is not None:
        return accepted(held)
    return await call.store.apis.update(call.principal.actor, api.id, call.body)


async def delete_api(call: Call) -> None:
    api = await managed_api(call)
    await call.store.apis.delete(call.principal.actor, api.id)


async def change_lifecycle(call: Call) -> Api | Response:
    body: LifecycleChange = call.body
    api = await managed_api(call)
    if body.action in (LifecycleAction.BLOCK, LifecycleAction.UNBLOCK):
        call.principal.require(ADMINS)
    held = await call.store.approvals.hold_api_transition(call.principal.actor, api.id, body.action)
    if held is not None:
        return accepted(held)
    return await call.store.apis.transition(call.principal.actor, api.id, body.action)


async def create_version(call: Call) -> Api:
    body: ApiVersionCreate = call.body
    api = await managed_api(call)
    return await call.store.apis.new_version(call.principal.actor, api.id, body.version)


_TAG = "apis"
_ID = "/api/v1/apis/{id}"
ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/apis",
        list_apis,
        "APIs I may see, any state",
        _TAG,
        response=Api,
        many=True,
        query=(
            QueryParam("tenant_id", "Only the APIs of this owner tenant."),
            QueryParam("status", "CREATED, PUBLISHED, DEPRECATED, RETIRED or BLOCKED."),
            *PAGING,
        ),
    ),
    Endpoint(
        "POST",
        "/api/v1/apis",
        create_api,
        "Register an API (CREATED); its definition must load on a gateway",
        _TAG,
        roles=WRITERS,
        body=ApiCreate,
        response=Api,
        status=201,
        description="Duplicate context + version: 409.",
    ),
    Endpoint("GET", _ID, get_api, "One API", _TAG, response=Api),
    Endpoint(
        "PUT",
        _ID,
        update_api,
        "Change an API (fields sent replace the stored ones)",
        _TAG,
        roles=WRITERS,
        body=ApiUpdate,
        response=Api,
        accepted=ApprovalRequest,
        description="202 with the approval request when the API is served and its tenant requires approval "
        "for updates: gateways keep the old definition until it is approved.",
    ),
    Endpoint("DELETE", _ID, delete_api, "Delete an API that is CREATED or RETIRED", _TAG, roles=WRITERS, status=204),
    Endpoint(
        "POST",
        _ID + "/lifecycle",
        change_lifecycle,
        "Lifecycle action: publish, deprecate, retire, block, unblock",
        _TAG,
        roles=WRITERS,
        body=LifecycleChange,
        response=Api,
        accepted=ApprovalRequest,
        description="CREATED -> PUBLISHED -> DEPRECATED -> RETIRED; PUBLISHED/DEPRECATED <-> BLOCKED (block and "
        "unblock: tenant_admin, super_admin). A forbidden transition answers 409 with the allowed actions. "
        "202 with the approval request when the tenant requires approval for state changes (publish, "
        "deprecate, retire); the API keeps its state until approved.",
    ),
    Endpoint(
        "POST",
        _ID + "/versions",
        create_version,
        "New version of an API: its definition copied as CREATED",
        _TAG,
        roles=WRITERS,
        body=ApiVersionCreate,
        response=Api,
        status=201,
    ),
)
