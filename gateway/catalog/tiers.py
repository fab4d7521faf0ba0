"""Throttling tiers in the catalog: list, put (create or replace) and delete, each write audited.

A tier is a (kind, name) pair, kind `subscription` or `application`, with a request quota and an optional
burst in the limits notation. Rates are checked with the throttle policy's own parser before anything is
written, so the store never holds a tier the gateway would refuse. Every write records an audit row in the
same transaction: the live push to gateways keys off the audit log (object_type "tier", object id
"<kind>/<name>").
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from gateway.catalog import audit
from gateway.catalog.audit import Actor
from gateway.catalog.db import Connection, Database, Row
from gateway.catalog.errors import Invalid, NotFound
from gateway.catalog.util import now
from gateway.config.rates import parse_rate


class TierKind(StrEnum):
    SUBSCRIPTION = "subscription"
    APPLICATION = "application"


class TierWrite(BaseModel):
    """The body of PUT /api/v1/tiers/{kind}/{name}."""

    model_config = ConfigDict(extra="forbid")

    requests: str | None = Field(None, description='Request quota, e.g. "5000/minute"; null = unlimited.')
    burst: str | None = Field(None, description='Short-window cap on top of the quota, e.g. "100/second".')
    description: str = Field("", max_length=1000, description="What the tier is for.")


class TierRecord(TierWrite):
    kind: TierKind = Field(description="subscription (application x API) or application (across its APIs).")
    name: str = Field(description="The tier name subscriptions and applications refer to.")
    created_at: str
    updated_at: str


def _check(tier: TierWrite) -> None:
    for field in ("requests", "burst"):
        value = getattr(tier, field)
        if value is not None:
            try:
                parse_rate(value)
            except ValueError as exc:
                raise Invalid(field, str(exc)) from None


def _record(row: Row) -> TierRecord:
    return TierRecord.model_validate(row)


async def _get(conn: Connection, kind: TierKind, name: str) -> TierRecord | None:
    row = await conn.fetchrow("SELECT * FROM tiers WHERE kind = $1 AND name = $2", kind.value, name)
    return _record(row) if row is not None else None


class TierRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(self, kind: TierKind | None = None) -> list[TierRecord]:
        """Ordered by kind then name."""
        async with self._db.read() as conn:
            if kind is None:
                rows = await conn.fetch("SELECT * FROM tiers ORDER BY kind, name")
            else:
                rows = await conn.fetch("SELECT * FROM tiers WHERE kind = $1 ORDER BY name", kind.value)
        return [_record(row) for row in rows]

    async def get(self, kind: TierKind, name: str) -> TierRecord:
        async with self._db.read() as conn:
            found = await _get(conn, kind, name)
        if found is None:
            raise NotFound(f"no {kind.value} tier {name!r}")
        return found

    async def put(self, actor: Actor, kind: TierKind, name: str, tier: TierWrite) -> TierRecord:
        """Creates the tier or replaces it whole; returns it as stored."""
        if not name or len(name) > 100 or "/" in name:
            raise Invalid("name", "a tier name is 1 to 100 characters without '/'")
        _check(tier)
        async with self._db.transaction() as conn:
            before = await _get(conn, kind, name)
            stamp = now()
            after = TierRecord(
                kind=kind,
                name=name,
                created_at=before.created_at if before is not None else stamp,
                updated_at=stamp,
                **tier.model_dump(),
            )
            if before is None:
                await conn.execute(
                    "INSERT INTO tiers (kind, name, requests, burst, description, created_at, updated_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    kind.value,
                    name,
                    after.requests,
                    after.burst,
                    after.description,
                    after.created_at,
                    after.updated_at,
                )
            else:
                await conn.execute(
                    "UPDATE tiers SET requests = $3, burst = $4, description = $5, updated_at = $6"
                    " WHERE kind = $1 AND name = $2",
                    kind.value,
                    name,
                    after.requests,
                    after.burst,
                    after.description,
                    after.updated_at,
                )
            action = "tier.create" if before is None else "tier.update"
            await audit.record(
                conn, actor, action, "tier", f"{kind.value}/{name}", tenant_id=None, before=before, after=after
            )
        return after

    async def delete(self, actor: Actor, kind: TierKind, name: str) -> None:
        async with self._db.transaction() as conn:
            before = await _get(conn, kind, name)
            if before is None:
                raise NotFound(f"no {kind.value} tier {name!r}")
            await conn.execute("DELETE FROM tiers WHERE kind = $1 AND name = $2", kind.value, name)
            await audit.record(
                conn, actor, "tier.delete", "tier", f"{kind.value}/{name}", tenant_id=None, before=before, after=None
            )
