"""The audit log: who changed what, when, with the object before and after, written by the same
transaction as the change itself (a change without its audit row cannot commit, and the reverse).
Secrets never reach it: callers pass the public model of an object, never its stored row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel

from gateway.catalog.db import Connection, Database, Row
from gateway.catalog.models import AuditEntry
from gateway.catalog.util import now

NOTIFY_CHANNEL = "splp_catalog"
"""PostgreSQL channel told about every committed change (gateway/feed/watch.py listens)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change: a signed-in user, or a named system process (id None)."""

    id: str | None
    name: str
    tenant_id: str | None

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(None, f"system:{name}", None)


def _json(value: BaseModel | dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    return orjson.dumps(data).decode()


async def record(
    conn: Connection,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    *,
    tenant_id: str | None,
    before: BaseModel | dict[str, Any] | None,
    after: BaseModel | dict[str, Any] | None,
    notify: bool = True,
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (at, actor_id, actor_name, actor_tenant_id, action, object_type, object_id,"
        " tenant_id, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        now(),
        actor.id,
        actor.name,
        actor.tenant_id,
        action,
        object_type,
        object_id,
        tenant_id,
        _json(before),
        _json(after),
    )
    if notify and conn.dialect == "postgres":  # NOTIFY is transactional: gateways hear of the change when it commits
        await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, object_type)


def _entry(row: Row) -> AuditEntry:
    for key in ("before", "after"):
        if isinstance(row[key], str):
            row[key] = orjson.loads(row[key])
    return AuditEntry.model_validate(row)


class AuditRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def event(self, actor: Actor, action: str, object_type: str, object_id: str, **details: Any) -> None:
        """Records something that happened without changing an object (a failed sign-in); gateways are
        not told, since nothing they serve changed."""
        tenant_id = details.pop("tenant_id", None)
        async with self._db.transaction() as conn:
            await record(
                conn,
                actor,
                action,
                object_type,
                object_id,
                tenant_id=tenant_id,
                before=None,
                after=details,
                notify=False,
            )

    async def newest_id(self) -> int:
        """The catalog's revision: every committed change adds an audit row (feeds compare it)."""
        async with self._db.read() as conn:
            return int(await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM audit_log") or 0)

    async def list(
        self,
        *,
        object_type: str | None = None,
        object_id: str | None = None,
        tenant_ids: list[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Newest first. `tenant_ids` restricts to changes of objects belonging to those tenants."""
        where: list[str] = []
        args: list[object] = []
        if object_type is not None:
            args.append(object_type)
            where.append(f"object_type = ${len(args)}")
        if object_id is not None:
            args.append(object_id)
            where.append(f"object_id = ${len(args)}")
        if tenant_ids is not None:
            if not tenant_ids:
                return []
            marks = []
            for tenant_id in tenant_ids:
                args.append(tenant_id)
                marks.append(f"${len(args)}")
            where.append(f"tenant_id IN ({', '.join(marks)})")
        sql = "SELECT * FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        args += [limit, offset]
        sql += f" ORDER BY id DESC LIMIT ${len(args) - 1} OFFSET ${len(args)}"
        async with self._db.read() as conn:
            rows = await conn.fetch(sql, *args)
        return [_entry(row) for row in rows]
