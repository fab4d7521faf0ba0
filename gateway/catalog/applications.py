"""Consumer applications: OAuth clients owned by a tenant, with a client secret and API keys.

The application id is its OAuth client id. Secrets are made here and returned once: the client secret
(secrets.token_urlsafe(32)) is stored as a scrypt hash by keymanager.hashing, the helper the resident
key manager verifies with; API keys as `sha256:<hex>` (the shape ApplicationConfig.api_keys holds).
Audit rows carry the public models only, never a secret or a hash.

A tenant that requires approval for application creation gets new applications PENDING_APPROVAL, with
a request in its own approval queue (workflow.py); they reach gateways once ACTIVE.
"""

from __future__ import annotations

import asyncio
import builtins
import secrets
from typing import Any

import orjson

from gateway.catalog import audit, workflow
from gateway.catalog.audit import Actor
from gateway.catalog.consumer_models import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyIssued,
    Application,
    ApplicationCreate,
    ApplicationCreated,
    ApplicationUpdate,
    ConsumerStatus,
    SecretIssued,
    Workflow,
)
from gateway.catalog.db import Connection, Database, Row
from gateway.catalog.errors import Conflict, Invalid, NotFound
from gateway.catalog.util import json_column, new_id, now, placeholders, stamp
from keymanager.hashing import hash_api_key, hash_secret, new_api_key

_SELECT = "SELECT p.*, t.slug AS tenant_slug FROM applications p JOIN tenants t ON t.id = p.tenant_id"
_KEY_PREFIX = 8
_JSON_LISTS = ("grant_types", "scopes", "key_managers")


def _key(row: Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked=bool(row["revoked"]),
    )


def _application(row: Row, keys: list[ApiKey], shared_with: list[str]) -> Application:
    return Application(
        id=row["id"],
        tenant_id=row["tenant_id"],
        tenant=row["tenant_slug"],
        owner_id=row["owner_id"],
        shared_with=shared_with,
        name=row["name"],
        description=row["description"],
        tier=row["tier"],
        status=row["status"],
        grant_types=json_column(row["grant_types"]),
        scopes=json_column(row["scopes"]),
        key_managers=json_column(row["key_managers"]),
        keys=keys,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def _fetch(conn: Connection, where: str, args: list[Any], tail: str = "") -> list[Application]:
    rows = await conn.fetch(f"{_SELECT} WHERE {where} {tail}", *args)
    keys: dict[str, list[ApiKey]] = {row["id"]: [] for row in rows}
    shares: dict[str, list[str]] = {row["id"]: [] for row in rows}
    if keys:
        ids = list(keys)
        for key_row in await conn.fetch(
            f"SELECT * FROM application_keys WHERE application_id IN ({placeholders(1, len(ids))})"
            " ORDER BY created_at, id",
            *ids,
        ):
            keys[key_row["application_id"]].append(_key(key_row))
        for share in await conn.fetch(
            f"SELECT application_id, user_id FROM application_shares WHERE application_id IN"
            f" ({placeholders(1, len(ids))}) ORDER BY created_at, user_id",
            *ids,
        ):
            shares[share["application_id"]].append(share["user_id"])
    return [_application(row, keys[row["id"]], shares[row["id"]]) for row in rows]


async def fetch(conn: Connection, application_id: str) -> Application:
    """One application inside the caller's transaction (NotFound when absent)."""
    found = await _fetch(conn, "p.id = $1", [application_id])
    if not found:
        raise NotFound(f"no application {application_id}")
    return found[0]


async def set_status(
    conn: Connection,
    actor: Actor,
    application_id: str,
    *,
    allowed: tuple[ConsumerStatus, ...],
    to: ConsumerStatus,
    action: str,
) -> Application:
    """Moves an application from one of `allowed` to `to` (Conflict otherwise), audited as `action`."""
    before = await fetch(conn, application_id)
    if before.status not in allowed:
        expected = " or ".join(s.value for s in allowed)
        raise Conflict(f"the application is {before.status.value}; this needs {expected}")
    await conn.execute(
        "UPDATE applications SET status = $2, updated_at = $3 WHERE id = $1", application_id, to.value, now()
    )
    after = await fetch(conn, application_id)
    await audit.record(
        conn, actor, action, "application", application_id, tenant_id=before.tenant_id, before=before, after=after
    )
    return after


async def _audit(
    conn: Connection, actor: Actor, action: str, application: Application, before: Any, after: Any
) -> None:
    """An audit row about `application`, under its tenant."""
    await audit.record(
        conn, actor, action, "application", application.id, tenant_id=application.tenant_id, before=before, after=after
    )


class ApplicationRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, actor: Actor, new: ApplicationCreate, *, tenant_id: str, tier: str) -> ApplicationCreated:
        """A new application with a fresh client secret (in the answer only). `tier` is already checked."""
        secret = secrets.token_urlsafe(32)
        secret_hash = await asyncio.to_thread(hash_secret, secret)
        async with self._db.transaction() as conn:
            if await conn.fetchval("SELECT 1 FROM tenants WHERE id = $1", tenant_id) is None:
                raise Invalid("tenant_id", "no such tenant")
            pending = await workflow.required(conn, tenant_id, Workflow.APPLICATION_CREATION)
            status = ConsumerStatus.PENDING_APPROVAL if pending else ConsumerStatus.ACTIVE
            application_id, at = new_id(), now()
            await conn.execute(
                "INSERT INTO applications (id, tenant_id, owner_id, name, description, tier, status,"
                " client_secret_hash, grant_types, scopes, key_managers, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                application_id,
                tenant_id,
                actor.id,
                new.name,
                new.description,
                tier,
                status.value,
                secret_hash,
                orjson.dumps(list(new.grant_types)).decode(),
                orjson.dumps(list(new.scopes)).decode(),
                orjson.dumps(list(new.key_managers)).decode(),
                at,
                at,
            )
            after = await fetch(conn, application_id)
            await audit.record(
                conn,
                actor,
                "application.create",
                "application",
                application_id,
                tenant_id=tenant_id,
                before=None,
                after=after,
            )
            if pending:
                await workflow.open_request(
                    conn,
                    actor,
                    tenant_id=tenant_id,
                    kind=Workflow.APPLICATION_CREATION,
                    object_type="application",
                    object_id=application_id,
                    payload={"name": new.name, "tier": tier, "description": new.description},
                )
        return ApplicationCreated(**after.model_dump(), client_secret=secret)

    async def get(self, application_id: str) -> Application:
        async with self._db.read() as conn:
            return await fetch(conn, application_id)

    async def list(
        self,
        *,
        tenant_ids: builtins.list[str] | None,
        status: ConsumerStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Application]:
        """Applications of `tenant_ids` (None: all), by name."""
        where = "1 = 1"
        args: builtins.list[object] = []
        if tenant_ids is not None:
            if not tenant_ids:
                return []
            where = f"p.tenant_id IN ({placeholders(1, len(tenant_ids))})"
            args = [*tenant_ids]
        if status is not None:
            args.append(status.value)
            where += f" AND p.status = ${len(args)}"
        args += [limit, offset]
        tail = f"ORDER BY p.name, p.id LIMIT ${len(args) - 1} OFFSET ${len(args)}"
        async with self._db.read() as conn:
            return await _fetch(conn, where, args, tail)

    async def update(
        self, actor: Actor, application_id: str, change: ApplicationUpdate, *, tier: str | None = None
    ) -> Application:
        """Sets the fields sent (null: leave as is); `tier` is the checked tier when one was sent."""
        fields = {k: v for k, v in change.model_dump(exclude_unset=True).items() if v is not None}
        if tier is not None:
            fields["tier"] = tier
        async with self._db.transaction() as conn:
            before = await fetch(conn, application_id)
            if not fields:
                return before
            values = {k: orjson.dumps(list(v)).decode() if k in _JSON_LISTS else v for k, v in fields.items()}
            columns = [*values, "updated_at"]
            assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(columns, start=2))
            await conn.execute(
                f"UPDATE applications SET {assignments} WHERE id = $1", application_id, *values.values(), now()
            )
            after = await fetch(conn, application_id)
            await _audit(conn, actor, "application.update", before, before, after)
        return after

    async def delete(self, actor: Actor, application_id: str) -> None:
        """Deletes the application with its keys and subscriptions (each subscription audited); pending
        approval requests about them are rejected as withdrawn."""
        async with self._db.transaction() as conn:
            before = await fetch(conn, application_id)
            subscriptions = await conn.fetch("SELECT * FROM subscriptions WHERE application_id = $1", application_id)
            reason = "withdrawn: the application was deleted"
            await workflow.withdraw(conn, actor, [application_id, *(s["id"] for s in subscriptions)], reason)
            for row in subscriptions:
                await audit.record(
                    conn,
                    actor,
                    "subscription.delete",
                    "subscription",
                    row["id"],
                    tenant_id=before.tenant_id,
                    before=row,
                    after=None,
                )
            await conn.execute("DELETE FROM applications WHERE id = $1", application_id)
            await _audit(conn, actor, "application.delete", before, before, None)

    async def block(self, actor: Actor, application_id: str) -> Application:
        async with self._db.transaction() as conn:
            return await set_status(
                conn,
                actor,
                application_id,
                allowed=(ConsumerStatus.ACTIVE,),
                to=ConsumerStatus.BLOCKED,
                action="application.block",
            )

    async def unblock(self, actor: Actor, application_id: str) -> Application:
        async with self._db.transaction() as conn:
            return await set_status(
                conn,
                actor,
                application_id,
                allowed=(ConsumerStatus.BLOCKED,),
                to=ConsumerStatus.ACTIVE,
                action="application.unblock",
            )

    async def regenerate_secret(self, actor: Actor, application_id: str) -> SecretIssued:
        """A new client secret (in the answer only); the old one stops working."""
        secret = secrets.token_urlsafe(32)
        secret_hash = await asyncio.to_thread(hash_secret, secret)
        async with self._db.transaction() as conn:
            before = await fetch(conn, application_id)
            at = now()
            await conn.execute(
                "UPDATE applications SET client_secret_hash = $2, updated_at = $3 WHERE id = $1",
                application_id,
                secret_hash,
                at,
            )
            await _audit(
                conn, actor, "application.secret", before, None, {"id": application_id, "secret_regenerated_at": at}
            )
        return SecretIssued(client_id=application_id, client_secret=secret)

    async def create_key(self, actor: Actor, application_id: str, new: ApiKeyCreate) -> ApiKeyIssued:
        """A new API key (in the answer only), stored as its sha256 hash."""
        key = new_api_key()
        created = now()
        expires_at = stamp(new.expires_at) if new.expires_at is not None else None
        if expires_at is not None and expires_at <= created:
            raise Invalid("expires_at", "must be in the future")
        issued = ApiKeyIssued(
            id=new_id(),
            name=new.name,
            prefix=key[:_KEY_PREFIX],
            created_at=created,
            expires_at=expires_at,
            revoked=False,
            key=key,
        )
        async with self._db.transaction() as conn:
            before = await fetch(conn, application_id)
            await conn.execute(
                "INSERT INTO application_keys (id, application_id, key_hash, prefix, name, created_at, expires_at,"
                " revoked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                issued.id,
                application_id,
                hash_api_key(key),
                issued.prefix,
                issued.name,
                created,
                expires_at,
                False,
            )
            public = ApiKey.model_validate(issued.model_dump(exclude={"key"}))
            await _audit(conn, actor, "application.key.create", before, None, public)
        return issued

    async def revoke_key(self, actor: Actor, application_id: str, key_id: str) -> None:
        async with self._db.transaction() as conn:
            application = await fetch(conn, application_id)
            row = await conn.fetchrow(
                "SELECT * FROM application_keys WHERE id = $1 AND application_id = $2", key_id, application_id
            )
            if row is None:
                raise NotFound(f"no key {key_id}")
            before = _key(row)
            if before.revoked:
                return
            await conn.execute("UPDATE application_keys SET revoked = $2 WHERE id = $1", key_id, True)
            await _audit(
                conn, actor, "application.key.revoke", application, before, before.model_copy(update={"revoked": True})
            )

    async def share(self, actor: Actor, application_id: str, user_id: str) -> Application:
        """Lets a user of the application's own tenant act on it like its owner (Invalid otherwise)."""
        async with self._db.transaction() as conn:
            before = await fetch(conn, application_id)
            tenant_id = await conn.fetchval("SELECT tenant_id FROM users WHERE id = $1", user_id)
            if tenant_id != before.tenant_id:
                raise Invalid("user_id", "no such user in the application's tenant")
            if user_id == before.owner_id or user_id in before.shared_with:
                return before
            await conn.execute(
                "INSERT INTO application_shares (application_id, user_id, created_at) VALUES ($1, $2, $3)",
                application_id,
                user_id,
                now(),
            )
            after = await fetch(conn, application_id)
            await _audit(conn, actor, "application.share", before, before, after)
        return after

    async def unshare(self, actor: Actor, application_id: str, user_id: str) -> None:
        async with self._db.transaction() as conn:
            before = await fetch(conn, application_id)
            if user_id not in before.shared_with:
                raise NotFound(f"application {application_id} is not shared with {user_id}")
            await conn.execute(
                "DELETE FROM application_shares WHERE application_id = $1 AND user_id = $2", application_id, user_id
            )
            after = await fetch(conn, application_id)
            await _audit(conn, actor, "application.unshare", before, before, after)
