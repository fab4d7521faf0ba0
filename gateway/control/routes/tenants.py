"""Tenant administration. Creating, changing and deleting tenants is for super admins; reading is for
every role, within its scope (outside: 404)."""

from __future__ import annotations

from gateway.catalog.errors import Conflict, NotFound
from gateway.catalog.models import Role, Tenant, TenantCreate, TenantUpdate
from gateway.control.access import READERS
from gateway.control.endpoints import PAGING, Call, Endpoint, Page, QueryParam

SUPER = frozenset({Role.SUPER_ADMIN})


async def list_tenants(call: Call) -> Page:
    limit, offset = call.query["limit"], call.query["offset"]
    parent = call.query["parent_id"]
    if parent is not None and not call.principal.sees(parent):
        return Page([], limit, offset)
    items = await call.store.tenants.list(ids=call.principal.scoped_ids(), parent_id=parent, limit=limit, offset=offset)
    return Page(items, limit, offset)


async def create_tenant(call: Call) -> Tenant:
    return await call.store.tenants.create(call.principal.actor, call.body)


async def get_tenant(call: Call) -> Tenant:
    tenant_id = call.path("id")
    if not call.principal.sees(tenant_id):
        raise NotFound(tenant_id)
    return await call.store.tenants.get(tenant_id)


async def update_tenant(call: Call) -> Tenant:
    tenant_id = call.path("id")
    if call.body.active is False and tenant_id == call.principal.tenant_id:
        # every super admin of the national tenant would be locked out, this one included
        raise Conflict("you cannot deactivate your own institution; ask an administrator of another one")
    return await call.store.tenants.update(call.principal.actor, tenant_id, call.body)


async def delete_tenant(call: Call) -> None:
    await call.store.tenants.delete(call.principal.actor, call.path("id"))


_TAG = "tenants"
ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/tenants",
        list_tenants,
        "Tenants in my scope",
        _TAG,
        roles=READERS,
        response=Tenant,
        many=True,
        query=(QueryParam("parent_id", "Only the children of this tenant."), *PAGING),
    ),
    Endpoint(
        "POST",
        "/api/v1/tenants",
        create_tenant,
        "Create a tenant (super_admin)",
        _TAG,
        roles=SUPER,
        body=TenantCreate,
        response=Tenant,
        status=201,
    ),
    Endpoint("GET", "/api/v1/tenants/{id}", get_tenant, "One tenant", _TAG, response=Tenant),
    Endpoint(
        "PUT",
        "/api/v1/tenants/{id}",
        update_tenant,
        "Change a tenant (super_admin)",
        _TAG,
        roles=SUPER,
        body=TenantUpdate,
        response=Tenant,
    ),
    Endpoint(
        "DELETE",
        "/api/v1/tenants/{id}",
        delete_tenant,
        "Delete a tenant without children, users or APIs (super_admin)",
        _TAG,
        roles=SUPER,
        status=204,
    ),
)
