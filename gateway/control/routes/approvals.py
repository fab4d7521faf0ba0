"""The approval workflow: each tenant's settings, the queue of requests, and the decisions.

Settings: read by any user of the tenant's scope, changed by its tenant admins (and super admins).
Queue and decisions: tenant admins of the deciding tenant's scope and super admins decide; auditors
read. A request outside the scope answers 404. Which tenant decides: the application's for a new
application, the API owner's for subscriptions and API changes. See gateway/catalog/approvals.py.
"""

from __future__ import annotations

from gateway.catalog.consumer_models import (
    ApprovalRequest,
    ApprovalSettings,
    ApprovalSettingsUpdate,
    ApprovalStatus,
    Approve,
    Reject,
    Workflow,
)
from gateway.catalog.errors import NotFound
from gateway.control.access import ADMINS, READERS
from gateway.control.endpoints import PAGING, Call, Endpoint, Page, QueryParam, query_enum


def _tenant(call: Call) -> str:
    tenant_id = call.path("id")
    if not call.principal.sees(tenant_id):
        raise NotFound(tenant_id)
    return tenant_id


async def get_settings(call: Call) -> ApprovalSettings:
    return await call.store.approvals.settings(_tenant(call))


async def update_settings(call: Call) -> ApprovalSettings:
    return await call.store.approvals.update_settings(call.principal.actor, _tenant(call), call.body)


async def _visible(call: Call) -> ApprovalRequest:
    request_id = call.path("id")
    request = await call.store.approvals.get(request_id)
    if not call.principal.sees(request.tenant_id):
        raise NotFound(request_id)
    return request


async def list_approvals(call: Call) -> Page:
    limit, offset = call.query["limit"], call.query["offset"]
    items = await call.store.approvals.list(
        tenant_ids=call.principal.scoped_ids(),
        status=query_enum(call, "status", ApprovalStatus),
        kind=query_enum(call, "kind", Workflow),
        limit=limit,
        offset=offset,
    )
    return Page(items, limit, offset)


async def get_approval(call: Call) -> ApprovalRequest:
    return await _visible(call)


async def approve(call: Call) -> ApprovalRequest:
    body: Approve = call.body
    request = await _visible(call)
    return await call.store.approvals.approve(call.principal.actor, request.id, body.reason)


async def reject(call: Call) -> ApprovalRequest:
    body: Reject = call.body
    request = await _visible(call)
    return await call.store.approvals.reject(call.principal.actor, request.id, body.reason)


_TAG = "approvals"
_ID = "/api/v1/approvals/{id}"
_SETTINGS = "/api/v1/tenants/{id}/approval-settings"
ENDPOINTS = (
    Endpoint(
        "GET", _SETTINGS, get_settings, "Which changes the tenant wants approved", _TAG, response=ApprovalSettings
    ),
    Endpoint(
        "PUT",
        _SETTINGS,
        update_settings,
        "Choose which changes need approval (tenant_admin, super_admin)",
        _TAG,
        roles=ADMINS,
        body=ApprovalSettingsUpdate,
        response=ApprovalSettings,
        description="api_state_change (publish, deprecate, retire), api_update (of a served API), "
        "application_creation, subscription (to this tenant's APIs). Fields sent replace the stored ones.",
    ),
    Endpoint(
        "GET",
        "/api/v1/approvals",
        list_approvals,
        "Approval requests my scope decides, oldest first",
        _TAG,
        roles=READERS,
        response=ApprovalRequest,
        many=True,
        query=(
            QueryParam("status", "PENDING, APPROVED or REJECTED."),
            QueryParam("kind", "api_state_change, api_update, application_creation or subscription."),
            *PAGING,
        ),
    ),
    Endpoint("GET", _ID, get_approval, "One approval request", _TAG, roles=READERS, response=ApprovalRequest),
    Endpoint(
        "POST",
        _ID + "/approve",
        approve,
        "Approve: the change is applied now (tenant_admin, super_admin)",
        _TAG,
        roles=ADMINS,
        body=Approve,
        response=ApprovalRequest,
        description="409 when already decided, or when the change no longer fits (the request stays PENDING).",
    ),
    Endpoint(
        "POST",
        _ID + "/reject",
        reject,
        "Reject with a reason: nothing changes (pending objects become REJECTED)",
        _TAG,
        roles=ADMINS,
        body=Reject,
        response=ApprovalRequest,
    ),
)
