"""Tenants (institutions) and their tree: national -> ministry / agency / province / regency / city -> unit.

The national tenant is the only root. Every other tenant has a parent, which must exist and be
active. A tenant is deleted only when it has no child tenants, users, APIs or applications (409 otherwise).
"""

from __future__ import annotations

import builtins

from gateway.catalog import audit
from gateway.catalog.audit import Actor
from gateway.catalog.db import Connection, Database, Row
from gateway.catalog.errors import Conflict, Invalid, NotFound
from gateway.catalog.models import Tenant, TenantCreate, TenantKind, TenantProfile, TenantUpdate
from gateway.catalog.util import new_id, now, placeholders

_SUBTREE = """
WITH RECURSIVE sub (id) AS (
    SELECT id FROM tenants WHERE id = $1
    UNION ALL
    SELECT t.id FROM tenants t JOIN sub ON t.parent_id = sub.id
)
SELECT id FROM sub
"""

_ANCESTORS = """
WITH RECURSIVE up (id, parent_id, depth) AS (
    SELECT id, parent_id, 0 FROM tenants WHERE id = $1
    UNION ALL
    SELECT t.id, t.parent_id, up.depth + 1 FROM tenants t JOIN up ON t.id = up.parent_id
)
SELECT id FROM up ORDER BY depth
"""


def _tenant(row: Row) -> Tenant:
    row["active"] = bool(row["active"])
    return Tenant.model_validate(row)


async def _get(conn: Connection, tenant_id: str) -> Tenant:
    row = await conn.fetchrow("SELECT * FROM tenants WHERE id = $1", tenant_id)
    if row is None:
        raise NotFound(f"no tenant {tenant_id}")
    return _tenant(row)


class TenantRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, actor: Actor, new: TenantCreate) -> Tenant:
        async with self._db.transaction() as conn:
            if new.kind is TenantKind.NATIONAL:
                if new.parent_id is not None:
                    raise Invalid("parent_id", "the national tenant has no parent")
                if await conn.fetchval("SELECT 1 FROM tenants WHERE kind = 'national'"):
                    raise Conflict("a national tenant already exists")
            else:
                if new.parent_id is None:
                    raise Invalid("parent_id", f"a {new.kind.value} tenant needs a parent")
                parent = await conn.fetchrow("SELECT id, active FROM tenants WHERE id = $1", new.parent_id)
                if parent is None:
                    raise Invalid("parent_id", "no such tenant")
                if not parent["active"]:
                    raise Invalid("parent_id", "the parent tenant is inactive")
            stamp = now()
            tenant = Tenant(
                id=new_id(),
                active=True,
                created_at=stamp,
                updated_at=stamp,
                **new.model_dump(),
            )
            await conn.execute(
                "INSERT INTO tenants (id, slug, name, kind, parent_id, description, email, phone, website, address,"
                " active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                tenant.id,
                tenant.slug,
                tenant.name,
                tenant.kind.value,
                tenant.parent_id,
                tenant.description,
                tenant.email,
                tenant.phone,
                tenant.website,
                tenant.address,
                tenant.active,
                tenant.created_at,
                tenant.updated_at,
            )
            await audit.record(
                conn, actor, "tenant.create", "tenant", tenant.id, tenant_id=tenant.id, before=None, after=tenant
            )
        return tenant

    async def get(self, tenant_id: str) -> Tenant:
        async with self._db.read() as conn:
            return await _get(conn, tenant_id)

    async def get_by_slug(self, slug: str) -> Tenant:
        async with self._db.read() as conn:
            row = await conn.fetchrow("SELECT * FROM tenants WHERE slug = $1", slug)
        if row is None:
            raise NotFound(f"no tenant {slug!r}")
        return _tenant(row)

    async def list(
        self, *, ids: list[str] | None = None, parent_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Tenant]:
        """Ordered by name. `ids` restricts to those tenants (a caller's scope); `parent_id` to its children."""
        where: list[str] = []
        args: list[object] = []
        if ids is not None:
            if not ids:
                return []
            where.append(f"id IN ({placeholders(len(args) + 1, len(ids))})")
            args.extend(ids)
        if parent_id is not None:
            args.append(parent_id)
            where.append(f"parent_id = ${len(args)}")
        sql = "SELECT * FROM tenants"
        if where:
            sql += " WHERE " + " AND ".join(where)
        args += [limit, offset]
        sql += f" ORDER BY name, id LIMIT ${len(args) - 1} OFFSET ${len(args)}"
        async with self._db.read() as conn:
            return [_tenant(row) for row in await conn.fetch(sql, *args)]

    async def count(self) -> int:
        async with self._db.read() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM tenants"))

    async def subtree(self, tenant_id: str) -> builtins.list[str]:
        """The tenant and every tenant below it (ids); empty when it does not exist."""
        async with self._db.read() as conn:
            return [row["id"] for row in await conn.fetch(_SUBTREE, tenant_id)]

    async def ancestors(self, tenant_id: str) -> builtins.list[str]:
        """The tenant, its parent, ... up to the root (ids); empty when it does not exist."""
        async with self._db.read() as conn:
            return [row["id"] for row in await conn.fetch(_ANCESTORS, tenant_id)]

    async def update(self, actor: Actor, tenant_id: str, change: TenantProfile | TenantUpdate) -> Tenant:
        fields = change.model_dump(exclude_unset=True)
        for required in ("name", "description", "active"):  # null there means "leave as is"
            if fields.get(required, "") is None:
                del fields[required]
        async with self._db.transaction() as conn:
            before = await _get(conn, tenant_id)
            if not fields:
                return before
            after = before.model_copy(update={**fields, "updated_at": now()})
            columns = list(fields) + ["updated_at"]
            assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(columns, start=2))
            await conn.execute(
                f"UPDATE tenants SET {assignments} WHERE id = $1",
                tenant_id,
                *(getattr(after, column) for column in columns),
            )
            await audit.record(
                conn, actor, "tenant.update", "tenant", tenant_id, tenant_id=tenant_id, before=before, after=after
            )
        return after

    async def delete(self, actor: Actor, tenant_id: str) -> None:
        async with self._db.transaction() as conn:
            before = await _get(conn, tenant_id)
            if await conn.fetchval("SELECT 1 FROM tenants WHERE parent_id = $1 LIMIT 1", tenant_id):
                raise Conflict("the tenant has child tenants; delete or move them first")
            if await conn.fetchval("SELECT 1 FROM users WHERE tenant_id = $1 LIMIT 1", tenant_id):
                raise Conflict("the tenant has users; delete them first")
            if await conn.fetchval("SELECT 1 FROM apis WHERE tenant_id = $1 LIMIT 1", tenant_id):
                raise Conflict("the tenant owns APIs; retire and delete them first")
            if await conn.fetchval("SELECT 1 FROM applications WHERE tenant_id = $1 LIMIT 1", tenant_id):
                raise Conflict("the tenant owns applications; delete them first")
            await conn.execute("DELETE FROM tenants WHERE id = $1", tenant_id)
            await audit.record(
                conn, actor, "tenant.delete", "tenant", tenant_id, tenant_id=tenant_id, before=before, after=None
            )
