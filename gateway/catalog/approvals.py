"""The approval workflow: per-tenant settings, the queue of requests, and the decisions.

What waits, when the deciding tenant's settings say so:
- application_creation: the application is PENDING_APPROVAL until approved (ACTIVE) or rejected (REJECTED);
- subscription: the same for a subscription, decided by the API owner's tenant;
- api_state_change: publish, deprecate or retire waits as a request; the API keeps its state meanwhile
  (block and unblock are administrators' actions and never wait);
- api_update: a change to a served (PUBLISHED or DEPRECATED) API waits as a request holding the change;
  gateways keep serving the old definition until it is approved, then it is applied as sent.

With `four_eyes` set, the user who asked for a change cannot approve it (403); they may still reject it.
Approving applies the change in the same transaction as the decision; if the change no longer fits
(the API moved on meanwhile) the approval fails with 409 and the request stays PENDING (reject it).
Every request and decision is in the audit log, under the deciding tenant.
"""

from __future__ import annotations

import builtins
import contextlib
from typing import Any

from gateway.catalog import applications, audit, subscriptions, workflow
from gateway.catalog.api_models import LifecycleAction
from gateway.catalog.apis import apply_transition, apply_update, check_transition, check_update, get_in
from gateway.catalog.audit import Actor
from gateway.catalog.consumer_models import (
    ApprovalRequest,
    ApprovalSettings,
    ApprovalSettingsUpdate,
    ApprovalStatus,
    ConsumerStatus,
    Workflow,
)
from gateway.catalog.db import Connection, Database
from gateway.catalog.errors import Forbidden, NotFound
from gateway.catalog.lifecycle import SERVED
from gateway.catalog.util import now, placeholders

GATED_ACTIONS = (LifecycleAction.PUBLISH, LifecycleAction.DEPRECATE, LifecycleAction.RETIRE)
_FLAGS = (*(w.value for w in Workflow), "four_eyes")  # the columns of approval_settings


async def _settings(conn: Connection, tenant_id: str) -> ApprovalSettings:
    if await conn.fetchval("SELECT 1 FROM tenants WHERE id = $1", tenant_id) is None:
        raise NotFound(f"no tenant {tenant_id}")
    row = await conn.fetchrow("SELECT * FROM approval_settings WHERE tenant_id = $1", tenant_id)
    if row is None:
        return ApprovalSettings(tenant_id=tenant_id, updated_at=None, **dict.fromkeys(_FLAGS, False))
    return ApprovalSettings(
        tenant_id=tenant_id, updated_at=row["updated_at"], **{flag: bool(row[flag]) for flag in _FLAGS}
    )


_PENDING_OBJECTS = {  # the workflows whose object waits as PENDING_APPROVAL: its status setter and audit name
    Workflow.APPLICATION_CREATION: (applications.set_status, "application"),
    Workflow.SUBSCRIPTION: (subscriptions.set_status, "subscription"),
}


async def _settle(conn: Connection, actor: Actor, request: ApprovalRequest, to: ConsumerStatus, verb: str) -> None:
    """A pending application or subscription becomes `to`, audited as `<object>.<verb>`."""
    set_status, name = _PENDING_OBJECTS[request.kind]
    await set_status(
        conn, actor, request.object_id, allowed=(ConsumerStatus.PENDING_APPROVAL,), to=to, action=f"{name}.{verb}"
    )


async def _apply(conn: Connection, actor: Actor, request: ApprovalRequest) -> None:
    """Carries out an approved request."""
    if request.kind in _PENDING_OBJECTS:
        await _settle(conn, actor, request, ConsumerStatus.ACTIVE, "approve")
    elif request.kind is Workflow.API_STATE_CHANGE:
        await apply_transition(conn, actor, request.object_id, LifecycleAction(request.payload["action"]))
    else:
        await apply_update(conn, actor, request.object_id, request.payload)


async def _refuse(conn: Connection, actor: Actor, request: ApprovalRequest) -> None:
    """What a rejection changes: a pending application or subscription becomes REJECTED; an API
    change is simply not made. An object deleted meanwhile needs nothing."""
    if request.kind in _PENDING_OBJECTS:
        with contextlib.suppress(NotFound):
            await _settle(conn, actor, request, ConsumerStatus.REJECTED, "reject")


class ApprovalRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def settings(self, tenant_id: str) -> ApprovalSettings:
        """The tenant's settings (everything False when never set); NotFound for an unknown tenant."""
        async with self._db.read() as conn:
            return await _settings(conn, tenant_id)

    async def update_settings(self, actor: Actor, tenant_id: str, change: ApprovalSettingsUpdate) -> ApprovalSettings:
        fields = {k: v for k, v in change.model_dump(exclude_unset=True).items() if v is not None}
        async with self._db.transaction() as conn:
            before = await _settings(conn, tenant_id)
            if not fields:
                return before
            after = before.model_copy(update={**fields, "updated_at": now()})
            flags = [getattr(after, flag) for flag in _FLAGS]
            if before.updated_at is None:
                await conn.execute(
                    f"INSERT INTO approval_settings (tenant_id, {', '.join(_FLAGS)}, updated_at)"
                    f" VALUES ($1, {placeholders(2, len(_FLAGS) + 1)})",
                    tenant_id,
                    *flags,
                    after.updated_at,
                )
            else:
                assignments = ", ".join(f"{flag} = ${i}" for i, flag in enumerate(_FLAGS, start=2))
                await conn.execute(
                    f"UPDATE approval_settings SET {assignments}, updated_at = ${len(_FLAGS) + 2} WHERE tenant_id = $1",
                    tenant_id,
                    *flags,
                    after.updated_at,
                )
            await audit.record(
                conn,
                actor,
                "approval_settings.update",
                "approval_settings",
                tenant_id,
                tenant_id=tenant_id,
                before=before,
                after=after,
            )
        return after

    async def get(self, request_id: str) -> ApprovalRequest:
        async with self._db.read() as conn:
            return await workflow.get_request(conn, request_id)

    async def list(
        self,
        *,
        tenant_ids: builtins.list[str] | None,
        status: ApprovalStatus | None = None,
        kind: Workflow | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[ApprovalRequest]:
        """Requests decided by `tenant_ids` (None: all), oldest first (a queue)."""
        where = "1 = 1"
        args: builtins.list[object] = []
        if tenant_ids is not None:
            if not tenant_ids:
                return []
            where = f"tenant_id IN ({placeholders(1, len(tenant_ids))})"
            args = [*tenant_ids]
        for column, value in (("status", status), ("kind", kind)):
            if value is not None:
                args.append(value.value)
                where += f" AND {column} = ${len(args)}"
        args += [limit, offset]
        sql = f"SELECT * FROM approval_requests WHERE {where} ORDER BY created_at, id"
        sql += f" LIMIT ${len(args) - 1} OFFSET ${len(args)}"
        async with self._db.read() as conn:
            return [workflow.request_model(row) for row in await conn.fetch(sql, *args)]

    async def hold_api_transition(self, actor: Actor, api_id: str, action: LifecycleAction) -> ApprovalRequest | None:
        """A request for the lifecycle action when the owner tenant wants one approved, else None (the
        caller applies the action itself). Conflict when the action is not allowed from the API's state."""
        if action not in GATED_ACTIONS:
            return None
        async with self._db.transaction() as conn:
            api = await get_in(conn, api_id)
            if not await workflow.required(conn, api.tenant_id, Workflow.API_STATE_CHANGE):
                return None
            check_transition(api, action)
            return await workflow.open_request(
                conn,
                actor,
                tenant_id=api.tenant_id,
                kind=Workflow.API_STATE_CHANGE,
                object_type="api",
                object_id=api_id,
                payload={"action": action.value, "from": api.status.value},
            )

    async def hold_api_update(self, actor: Actor, api_id: str, fields: dict[str, Any]) -> ApprovalRequest | None:
        """A request holding the change (see apis.update_fields) when the API is served and its owner
        wants updates approved, else None (the caller applies the change itself). The change is checked
        now, exactly as the update would check it."""
        async with self._db.transaction() as conn:
            api = await get_in(conn, api_id)
            if not fields or api.status not in SERVED:
                return None
            if not await workflow.required(conn, api.tenant_id, Workflow.API_UPDATE):
                return None
            await check_update(conn, api_id, fields)
            return await workflow.open_request(
                conn,
                actor,
                tenant_id=api.tenant_id,
                kind=Workflow.API_UPDATE,
                object_type="api",
                object_id=api_id,
                payload=fields,
            )

    async def approve(self, actor: Actor, request_id: str, reason: str = "") -> ApprovalRequest:
        """Applies the request's change and records the decision, in one transaction. Under the deciding
        tenant's four-eyes rule the requester cannot approve (Forbidden)."""
        async with self._db.transaction() as conn:
            request = await workflow.get_request(conn, request_id)
            if request.requested_by == actor.id and (await _settings(conn, request.tenant_id)).four_eyes:
                raise Forbidden("four-eyes rule: another administrator must approve your own request")
            decided = await workflow.decide(conn, actor, request, ApprovalStatus.APPROVED, reason)
            await _apply(conn, actor, request)
        return decided

    async def reject(self, actor: Actor, request_id: str, reason: str) -> ApprovalRequest:
        async with self._db.transaction() as conn:
            request = await workflow.get_request(conn, request_id)
            decided = await workflow.decide(conn, actor, request, ApprovalStatus.REJECTED, reason)
            await _refuse(conn, actor, request)
        return decided
