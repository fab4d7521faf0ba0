"""The approval workflow's steps inside a caller's transaction: is an approval required, open a request,
withdraw the requests of a deleted object. The repositories of applications and subscriptions call these
in their own transactions; approvals.py holds the queue and the decisions.

A tenant without an approval_settings row requires nothing (the default: changes apply at once).
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.catalog import audit
from gateway.catalog.audit import Actor
from gateway.catalog.consumer_models import ApprovalRequest, ApprovalStatus, Workflow
from gateway.catalog.db import Connection, Row
from gateway.catalog.errors import Conflict, NotFound
from gateway.catalog.util import new_id, now, placeholders


def request_model(row: Row) -> ApprovalRequest:
    if isinstance(row["payload"], str | bytes):
        row["payload"] = orjson.loads(row["payload"])
    return ApprovalRequest.model_validate(row)


async def get_request(conn: Connection, request_id: str) -> ApprovalRequest:
    row = await conn.fetchrow("SELECT * FROM approval_requests WHERE id = $1", request_id)
    if row is None:
        raise NotFound(f"no approval request {request_id}")
    return request_model(row)


async def required(conn: Connection, tenant_id: str, workflow: Workflow) -> bool:
    """Whether `tenant_id` wants `workflow` approved (the column name is the workflow's value)."""
    value = await conn.fetchval(f"SELECT {workflow.value} FROM approval_settings WHERE tenant_id = $1", tenant_id)
    return bool(value)


async def open_request(
    conn: Connection,
    actor: Actor,
    *,
    tenant_id: str,
    kind: Workflow,
    object_type: str,
    object_id: str,
    payload: dict[str, Any],
) -> ApprovalRequest:
    """A PENDING request for `tenant_id`'s approvers; Conflict when one for the same change waits already."""
    waiting = await conn.fetchval(
        "SELECT id FROM approval_requests WHERE kind = $1 AND object_id = $2 AND status = $3",
        kind.value,
        object_id,
        ApprovalStatus.PENDING.value,
    )
    if waiting is not None:
        raise Conflict(f"a {kind.value} request for this {object_type} is already waiting", approval_id=waiting)
    request = ApprovalRequest(
        id=new_id(),
        tenant_id=tenant_id,
        kind=kind,
        object_type=object_type,
        object_id=object_id,
        payload=payload,
        requested_by=actor.id,
        requested_by_name=actor.name,
        status=ApprovalStatus.PENDING,
        decided_by=None,
        decided_by_name=None,
        decided_at=None,
        reason=None,
        created_at=now(),
    )
    await conn.execute(
        "INSERT INTO approval_requests (id, tenant_id, kind, object_type, object_id, payload, requested_by,"
        " requested_by_name, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        request.id,
        tenant_id,
        kind.value,
        object_type,
        object_id,
        orjson.dumps(payload).decode(),
        actor.id,
        actor.name,
        request.status.value,
        request.created_at,
    )
    await audit.record(
        conn, actor, "approval.request", "approval", request.id, tenant_id=tenant_id, before=None, after=request
    )
    return request


async def decide(
    conn: Connection, actor: Actor, request: ApprovalRequest, status: ApprovalStatus, reason: str
) -> ApprovalRequest:
    """Records a decision on a PENDING request (Conflict when someone decided it meanwhile), audited."""
    stamp = now()
    changed = await conn.execute(
        "UPDATE approval_requests SET status = $2, decided_by = $3, decided_by_name = $4, decided_at = $5,"
        " reason = $6 WHERE id = $1 AND status = $7",
        request.id,
        status.value,
        actor.id,
        actor.name,
        stamp,
        reason,
        ApprovalStatus.PENDING.value,
    )
    if changed != 1:
        raise Conflict("the request was decided meanwhile; read it again")
    after = request.model_copy(
        update={
            "status": status,
            "decided_by": actor.id,
            "decided_by_name": actor.name,
            "decided_at": stamp,
            "reason": reason,
        }
    )
    action = "approval.approve" if status is ApprovalStatus.APPROVED else "approval.reject"
    await audit.record(
        conn, actor, action, "approval", request.id, tenant_id=request.tenant_id, before=request, after=after
    )
    return after


async def withdraw(conn: Connection, actor: Actor, object_ids: list[str], reason: str) -> None:
    """Rejects the PENDING requests about objects that are going away (their decision could apply to nothing)."""
    if not object_ids:
        return
    rows = await conn.fetch(
        f"SELECT * FROM approval_requests WHERE status = $1 AND object_id IN ({placeholders(2, len(object_ids))})",
        ApprovalStatus.PENDING.value,
        *object_ids,
    )
    for row in rows:
        await decide(conn, actor, request_model(row), ApprovalStatus.REJECTED, reason)
