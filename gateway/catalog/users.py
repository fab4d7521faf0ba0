"""Users: one role each, one tenant each, usernames unique across SPLP (stored in lowercase).

Password hashes never leave this module except through `credentials()` (for sign-in). Changing a
password or deactivating a user bumps `session_version`: tokens carry it, so older tokens stop working.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.catalog import audit
from gateway.catalog.audit import Actor
from gateway.catalog.db import Connection, Database, Row
from gateway.catalog.errors import Invalid, NotFound
from gateway.catalog.models import Role, User
from gateway.catalog.util import new_id, now

_PUBLIC = "id, tenant_id, username, email, full_name, phone, role, active, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class Credentials:
    user: User
    password_hash: str
    session_version: int
    tenant_active: bool


def _user(row: Row) -> User:
    row["active"] = bool(row["active"])
    return User.model_validate(row)


async def _get(conn: Connection, user_id: str) -> User:
    row = await conn.fetchrow(f"SELECT {_PUBLIC} FROM users WHERE id = $1", user_id)
    if row is None:
        raise NotFound(f"no user {user_id}")
    return _user(row)


class UserRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        actor: Actor,
        *,
        tenant_id: str,
        username: str,
        role: Role,
        password_hash: str,
        full_name: str = "",
        email: str | None = None,
        phone: str | None = None,
    ) -> User:
        async with self._db.transaction() as conn:
            tenant = await conn.fetchrow("SELECT id, active FROM tenants WHERE id = $1", tenant_id)
            if tenant is None:
                raise Invalid("tenant_id", "no such tenant")
            stamp = now()
            user = User(
                id=new_id(),
                tenant_id=tenant_id,
                username=username.lower(),
                email=email,
                full_name=full_name,
                phone=phone,
                role=role,
                active=True,
                created_at=stamp,
                updated_at=stamp,
            )
            await conn.execute(
                "INSERT INTO users (id, tenant_id, username, email, full_name, phone, role, password_hash,"
                " session_version, active, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $11)",
                user.id,
                user.tenant_id,
                user.username,
                user.email,
                user.full_name,
                user.phone,
                user.role.value,
                password_hash,
                True,
                stamp,
                stamp,
            )
            await audit.record(
                conn, actor, "user.create", "user", user.id, tenant_id=tenant_id, before=None, after=user
            )
        return user

    async def get(self, user_id: str) -> User:
        async with self._db.read() as conn:
            return await _get(conn, user_id)

    async def credentials(self, *, username: str | None = None, user_id: str | None = None) -> Credentials | None:
        """The user with their password hash and session version, by username or id; None when unknown."""
        column, value = ("u.username", (username or "").lower()) if user_id is None else ("u.id", user_id)
        async with self._db.read() as conn:
            row = await conn.fetchrow(
                f"SELECT u.*, t.active AS tenant_active FROM users u JOIN tenants t ON t.id = u.tenant_id"
                f" WHERE {column} = $1",
                value,
            )
        if row is None:
            return None
        password_hash = row.pop("password_hash")
        session_version = int(row.pop("session_version"))
        tenant_active = bool(row.pop("tenant_active"))
        return Credentials(_user(row), password_hash, session_version, tenant_active)

    async def list(self, *, tenant_ids: list[str], limit: int = 100, offset: int = 0) -> list[User]:
        if not tenant_ids:
            return []
        marks = ", ".join(f"${i}" for i in range(1, len(tenant_ids) + 1))
        n = len(tenant_ids)
        async with self._db.read() as conn:
            rows = await conn.fetch(
                f"SELECT {_PUBLIC} FROM users WHERE tenant_id IN ({marks}) ORDER BY username"
                f" LIMIT ${n + 1} OFFSET ${n + 2}",
                *tenant_ids,
                limit,
                offset,
            )
        return [_user(row) for row in rows]

    async def count(self, *, role: Role | None = None) -> int:
        async with self._db.read() as conn:
            if role is None:
                return int(await conn.fetchval("SELECT count(*) FROM users"))
            return int(await conn.fetchval("SELECT count(*) FROM users WHERE role = $1", role.value))

    async def touch(self, user_id: str, at: str) -> None:
        """Records activity (dashboard "Active Visitor"); not audited: a visit changes nothing."""
        async with self._db.transaction() as conn:
            await conn.execute("UPDATE users SET last_seen_at = $1 WHERE id = $2", at, user_id)

    async def update(
        self, actor: Actor, user_id: str, fields: dict[str, Any], *, password_hash: str | None = None
    ) -> User:
        """Sets the given public fields (full_name, email, phone, role, active) and optionally a new hash.
        A new hash or a deactivation ends the user's sessions."""
        allowed = {"full_name", "email", "phone", "role", "active"}
        if unknown := set(fields) - allowed:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        fields = {k: v for k, v in fields.items() if v is not None or k in ("email", "phone")}
        async with self._db.transaction() as conn:
            before = await _get(conn, user_id)
            after = before.model_copy(update={**fields, "updated_at": now()})
            columns = list(fields) + ["updated_at"]
            values: list[Any] = [getattr(after, c).value if c == "role" else getattr(after, c) for c in columns]
            if password_hash is not None:
                columns.append("password_hash")
                values.append(password_hash)
            assignments = [f"{column} = ${i}" for i, column in enumerate(columns, start=2)]
            if password_hash is not None or fields.get("active") is False:
                assignments.append("session_version = session_version + 1")
            await conn.execute(f"UPDATE users SET {', '.join(assignments)} WHERE id = $1", user_id, *values)
            action = "user.password" if password_hash is not None and not fields else "user.update"
            await audit.record(
                conn, actor, action, "user", user_id, tenant_id=before.tenant_id, before=before, after=after
            )
        return after

    async def delete(self, actor: Actor, user_id: str) -> None:
        async with self._db.transaction() as conn:
            before = await _get(conn, user_id)
            await conn.execute("DELETE FROM users WHERE id = $1", user_id)
            await audit.record(
                conn, actor, "user.delete", "user", user_id, tenant_id=before.tenant_id, before=before, after=None
            )
