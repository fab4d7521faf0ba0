"""Subscriptions: an application (of the subscriber's tenant) to an API (of the owner's tenant), with a tier.

Two tenants are involved: the application's manages the subscription (creates, deletes it), the API
owner's decides on it (approves it when its settings ask for that, blocks and unblocks it). New
subscriptions go to ACTIVE applications and PUBLISHED APIs the subscriber can see in the catalog.
Audit rows belong to the application's tenant (its history), approval requests to the API owner's.
"""

from __future__ import annotations

import builtins
from typing import Any

from gateway.catalog import applications, audit, workflow
from gateway.catalog.api_models import ApiStatus
from gateway.catalog.apis import get_in as get_api
from gateway.catalog.audit import Actor
from gateway.catalog.consumer_models import ConsumerStatus, Subscription, SubscriptionCreate, Workflow
from gateway.catalog.db import Connection, Database, Row
from gateway.catalog.errors import Conflict, Invalid, NotFound
from gateway.catalog.util import new_id, now, placeholders
from gateway.catalog.visibility import Viewer

_SELECT = (
    "SELECT s.*, p.name AS application_name, p.tenant_id AS application_tenant_id,"
    " a.context, a.version, a.tenant_id AS api_tenant_id"
    " FROM subscriptions s JOIN applications p ON p.id = s.application_id JOIN apis a ON a.id = s.api_id"
)


def _subscription(row: Row) -> Subscription:
    return Subscription(
        id=row["id"],
        application_id=row["application_id"],
        application=row["application_name"],
        application_tenant_id=row["application_tenant_id"],
        api_id=row["api_id"],
        api=f"{row['context']}/{row['version']}",
        api_tenant_id=row["api_tenant_id"],
        tier=row["tier"],
        status=row["status"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def fetch(conn: Connection, subscription_id: str) -> Subscription:
    """One subscription inside the caller's transaction (NotFound when absent)."""
    row = await conn.fetchrow(f"{_SELECT} WHERE s.id = $1", subscription_id)
    if row is None:
        raise NotFound(f"no subscription {subscription_id}")
    return _subscription(row)


async def set_status(
    conn: Connection,
    actor: Actor,
    subscription_id: str,
    *,
    allowed: tuple[ConsumerStatus, ...],
    to: ConsumerStatus,
    action: str,
) -> Subscription:
    """Moves a subscription from one of `allowed` to `to` (Conflict otherwise), audited as `action`."""
    before = await fetch(conn, subscription_id)
    if before.status not in allowed:
        expected = " or ".join(s.value for s in allowed)
        raise Conflict(f"the subscription is {before.status.value}; this needs {expected}")
    await conn.execute(
        "UPDATE subscriptions SET status = $2, updated_at = $3 WHERE id = $1", subscription_id, to.value, now()
    )
    after = await fetch(conn, subscription_id)
    await audit.record(
        conn,
        actor,
        action,
        "subscription",
        subscription_id,
        tenant_id=before.application_tenant_id,
        before=before,
        after=after,
    )
    return after


class SubscriptionRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, actor: Actor, new: SubscriptionCreate, *, viewer: Viewer | None) -> Subscription:
        """Subscribes an ACTIVE application to a PUBLISHED API that `viewer` sees (None: any API).
        The caller has checked that the application is in its scope and that the tier exists."""
        async with self._db.transaction() as conn:
            application = await applications.fetch(conn, new.application_id)
            try:
                api = await get_api(conn, new.api_id)
            except NotFound:
                raise Invalid("api_id", "no such API") from None
            if viewer is not None and not viewer.sees(api):
                raise Invalid("api_id", "no such API")
            if application.status is not ConsumerStatus.ACTIVE:
                raise Conflict(f"the application is {application.status.value}; only ACTIVE ones subscribe")
            if api.status is not ApiStatus.PUBLISHED:
                raise Conflict(f"the API is {api.status.value}; new subscriptions go to PUBLISHED APIs only")
            existing = await conn.fetchval(
                "SELECT status FROM subscriptions WHERE application_id = $1 AND api_id = $2", application.id, api.id
            )
            if existing is not None:
                raise Conflict(f"the application already subscribes to this API ({existing}); delete that first")
            pending = await workflow.required(conn, api.tenant_id, Workflow.SUBSCRIPTION)
            status = ConsumerStatus.PENDING_APPROVAL if pending else ConsumerStatus.ACTIVE
            subscription_id, stamp = new_id(), now()
            await conn.execute(
                "INSERT INTO subscriptions (id, application_id, api_id, tier, status, created_by, created_at,"
                " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                subscription_id,
                application.id,
                api.id,
                new.tier,
                status.value,
                actor.id,
                stamp,
                stamp,
            )
            after = await fetch(conn, subscription_id)
            await audit.record(
                conn,
                actor,
                "subscription.create",
                "subscription",
                subscription_id,
                tenant_id=application.tenant_id,
                before=None,
                after=after,
            )
            if pending:
                await workflow.open_request(
                    conn,
                    actor,
                    tenant_id=api.tenant_id,
                    kind=Workflow.SUBSCRIPTION,
                    object_type="subscription",
                    object_id=subscription_id,
                    payload={
                        "application_id": application.id,
                        "application": application.name,
                        "application_tenant": application.tenant,
                        "api_id": api.id,
                        "api": after.api,
                        "tier": new.tier,
                    },
                )
        return after

    async def get(self, subscription_id: str) -> Subscription:
        async with self._db.read() as conn:
            return await fetch(conn, subscription_id)

    async def list(
        self,
        *,
        tenant_ids: builtins.list[str] | None,
        application_id: str | None = None,
        api_id: str | None = None,
        status: ConsumerStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Subscription]:
        """Subscriptions whose application or API belongs to `tenant_ids` (None: all), newest first."""
        where = "1 = 1"
        args: builtins.list[object] = []
        if tenant_ids is not None:
            if not tenant_ids:
                return []
            marks = placeholders(1, len(tenant_ids))
            where = f"(p.tenant_id IN ({marks}) OR a.tenant_id IN ({marks}))"
            args = [*tenant_ids]
        filters: dict[str, Any] = {"s.application_id": application_id, "s.api_id": api_id}
        filters["s.status"] = status.value if status is not None else None
        for column, value in filters.items():
            if value is not None:
                args.append(value)
                where += f" AND {column} = ${len(args)}"
        args += [limit, offset]
        tail = f"ORDER BY s.created_at DESC, s.id LIMIT ${len(args) - 1} OFFSET ${len(args)}"
        async with self._db.read() as conn:
            rows = await conn.fetch(f"{_SELECT} WHERE {where} {tail}", *args)
        return [_subscription(row) for row in rows]

    async def delete(self, actor: Actor, subscription_id: str) -> None:
        """Unsubscribes; a pending approval request for it is rejected as withdrawn."""
        async with self._db.transaction() as conn:
            before = await fetch(conn, subscription_id)
            await workflow.withdraw(conn, actor, [subscription_id], "withdrawn: the subscription was deleted")
            await conn.execute("DELETE FROM subscriptions WHERE id = $1", subscription_id)
            await audit.record(
                conn,
                actor,
                "subscription.delete",
                "subscription",
                subscription_id,
                tenant_id=before.application_tenant_id,
                before=before,
                after=None,
            )

    async def block(self, actor: Actor, subscription_id: str) -> Subscription:
        async with self._db.transaction() as conn:
            return await set_status(
                conn,
                actor,
                subscription_id,
                allowed=(ConsumerStatus.ACTIVE,),
                to=ConsumerStatus.BLOCKED,
                action="subscription.block",
            )

    async def unblock(self, actor: Actor, subscription_id: str) -> Subscription:
        async with self._db.transaction() as conn:
            return await set_status(
                conn,
                actor,
                subscription_id,
                allowed=(ConsumerStatus.BLOCKED,),
                to=ConsumerStatus.ACTIVE,
                action="subscription.unblock",
            )
