"""The audit log, read-only: every change in my scope, newest first (super_admin, tenant_admin, auditor)."""

from __future__ import annotations

from gateway.catalog.models import AuditEntry
from gateway.control.access import READERS
from gateway.control.endpoints import PAGING, Call, Endpoint, Page, QueryParam


async def list_audit(call: Call) -> Page:
    limit, offset = call.query["limit"], call.query["offset"]
    items = await call.store.audit.list(
        object_type=call.query["object_type"],
        object_id=call.query["object_id"],
        tenant_ids=call.principal.scoped_ids(),
        limit=limit,
        offset=offset,
    )
    return Page(items, limit, offset)


ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/audit",
        list_audit,
        "Audit log of changes in my scope",
        "audit",
        roles=READERS,
        response=AuditEntry,
        many=True,
        query=(
            QueryParam("object_type", "tenant, user, api..."),
            QueryParam("object_id", "One object's history."),
            *PAGING,
        ),
    ),
)
