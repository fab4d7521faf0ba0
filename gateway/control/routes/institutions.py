"""An institution's internal units (the slides' /institutions/{id}/internal): its direct child tenants.

Readable by every role whose scope holds the institution; outside the scope: 404.
"""

from __future__ import annotations

from gateway.catalog.errors import NotFound
from gateway.catalog.models import Tenant
from gateway.control.endpoints import PAGING, Call, Endpoint, Page


async def list_internal(call: Call) -> Page:
    institution = call.path("id")
    if not call.principal.sees(institution):
        raise NotFound(institution)
    await call.store.tenants.get(institution)
    limit, offset = call.query["limit"], call.query["offset"]
    return Page(await call.store.tenants.list(parent_id=institution, limit=limit, offset=offset), limit, offset)


async def get_internal(call: Call) -> Tenant:
    institution, internal = call.path("id"), call.path("internal_id")
    if not (call.principal.sees(institution) and call.principal.sees(internal)):
        raise NotFound(internal)
    unit = await call.store.tenants.get(internal)
    if unit.parent_id != institution:
        raise NotFound(internal)
    return unit


_TAG = "institutions"
ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/institutions/{id}/internal",
        list_internal,
        "Internal units of an institution",
        _TAG,
        response=Tenant,
        many=True,
        query=PAGING,
    ),
    Endpoint(
        "GET",
        "/api/v1/institutions/{id}/internal/{internal_id}",
        get_internal,
        "One internal unit of an institution",
        _TAG,
        response=Tenant,
    ),
)
