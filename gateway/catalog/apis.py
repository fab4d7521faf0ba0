"""APIs in the catalog: definitions owned by a tenant, unique by (context, version), with a lifecycle.

Every definition is turned into a gateway `ApiConfig` (and its policies resolved against the policy
registry) before it is written, so what the catalog holds always loads on a gateway. Every change
writes its audit row (before/after) in the same transaction.

Who sees an API is the `Viewer`'s business (visibility.py); this module filters with it in SQL.
"""

from __future__ import annotations

import builtins
import re
from typing import Any

import orjson
from pydantic import ValidationError

from gateway.catalog import audit
from gateway.catalog.api_models import (
    Api,
    ApiCreate,
    ApiStatus,
    ApiUpdate,
    CatalogEntry,
    LifecycleAction,
    Visibility,
)
from gateway.catalog.audit import Actor
from gateway.catalog.db import Connection, Database, Row
from gateway.catalog.errors import Conflict, Invalid, NotFound
from gateway.catalog.lifecycle import DELETABLE, allowed_actions, next_status
from gateway.catalog.util import json_column, new_id, now, placeholders
from gateway.catalog.visibility import Viewer, visibility_sql
from gateway.config.model import ApiConfig

_SELECT = "SELECT a.*, t.slug AS tenant_slug, t.name AS tenant_name FROM apis a JOIN tenants t ON t.id = a.tenant_id"
_DEFINITION = ("name", "context", "version", "description", "groups", "backend", "resources", "policies")
_PATH_PART = re.compile(r"[^.\[\]]+")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _resource(methods: Any, path: str) -> str:
    return f"{','.join(methods)} {path}"


def build_config(tenant_slug: str, definition: dict[str, Any]) -> ApiConfig:
    """The gateway's ApiConfig for a definition (plain JSON values), its policies checked against the
    registry; Invalid lists every problem (locations as in the request body)."""
    try:
        config = ApiConfig.model_validate({**definition, "tenant": tenant_slug})
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems: list[dict[str, Any]] = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]
        raise Invalid(str(errors[0]["loc"][0]), errors[0]["msg"], problems) from None
    from gateway.config.load import resolve_policies  # the loader's own check: registry + each policy's Config

    found: list[Any] = []
    resolve_policies(config.policies, "catalog", "policies", found)
    if found:
        problems = [
            {
                "loc": [int(p) if p.isdigit() else p for p in _PATH_PART.findall(problem.path)],
                "msg": problem.message,
                "type": "value_error",
            }
            for problem in found
        ]
        raise Invalid("policies", found[0].message, problems)
    return config


def _stored(config: ApiConfig) -> dict[str, Any]:
    """The gateway part of a definition as stored (JSON values, resources as shorthand strings)."""
    return {
        "name": config.name,
        "context": config.context,
        "version": config.version,
        "description": config.description,
        "groups": list(config.groups),
        "backend": config.backend.model_dump(mode="json", exclude_none=True),
        "resources": [_resource(r.methods, r.path) for r in config.resources],
        "policies": [dict(p) for p in config.policies],
    }


def _api(row: Row, tags: list[str]) -> Api:
    return Api(
        id=row["id"],
        tenant_id=row["tenant_id"],
        tenant=row["tenant_slug"],
        name=row["name"],
        context=row["context"],
        version=row["version"],
        description=row["description"],
        tags=tags,
        classification=row["classification"],
        visibility=row["visibility"],
        visible_tenants=json_column(row["visible_tenants"]),
        groups=json_column(row["groups"]),
        backend=json_column(row["backends"]),
        resources=json_column(row["resources"]),
        policies=json_column(row["policies"]),
        status=row["status"],
        blocked_from=row["blocked_from"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def to_config(api: Api) -> ApiConfig:
    """The gateway's view of a stored API (what a gateway snapshot is built from)."""
    return ApiConfig.model_validate(
        {
            "name": api.name,
            "context": api.context,
            "version": api.version,
            "tenant": api.tenant,
            "description": api.description,
            "groups": api.groups,
            "backend": api.backend,
            "resources": api.resources,
            "policies": api.policies or [],
        }
    )


async def _tags(conn: Connection, ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {api_id: [] for api_id in ids}
    if ids:
        rows = await conn.fetch(
            f"SELECT api_id, tag FROM api_tags WHERE api_id IN ({placeholders(1, len(ids))}) ORDER BY tag", *ids
        )
        for row in rows:
            found[row["api_id"]].append(row["tag"])
    return found


async def _fetch(conn: Connection, where: str, args: list[Any], tail: str = "") -> list[Api]:
    rows = await conn.fetch(f"{_SELECT} WHERE {where} {tail}", *args)
    tags = await _tags(conn, [row["id"] for row in rows])
    return [_api(row, tags[row["id"]]) for row in rows]


async def _get(conn: Connection, api_id: str) -> Api:
    found = await _fetch(conn, "a.id = $1", [api_id])
    if not found:
        raise NotFound(f"no API {api_id}")
    return found[0]


async def _check_tenants(conn: Connection, tenant_ids: tuple[str, ...] | list[str]) -> None:
    if not tenant_ids:
        return
    rows = await conn.fetch(f"SELECT id FROM tenants WHERE id IN ({placeholders(1, len(tenant_ids))})", *tenant_ids)
    missing = sorted(set(tenant_ids) - {row["id"] for row in rows})
    if missing:
        raise Invalid("visible_tenants", f"no such tenant: {', '.join(missing)}")


async def _write_tags(conn: Connection, api_id: str, tags: list[str]) -> None:
    await conn.execute("DELETE FROM api_tags WHERE api_id = $1", api_id)
    for tag in tags:
        await conn.execute("INSERT INTO api_tags (api_id, tag) VALUES ($1, $2)", api_id, tag)


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def update_fields(change: ApiUpdate) -> dict[str, Any]:
    """The fields a change sets, as JSON values (null in a request means "leave as is")."""
    return {
        key: value for key, value in change.model_dump(mode="json", exclude_unset=True).items() if value is not None
    }


async def _planned(conn: Connection, before: Api, fields: dict[str, Any]) -> dict[str, Any]:
    """The columns an update would write, after every check (state, definition, visible tenants)."""
    if before.status is ApiStatus.RETIRED:
        raise Conflict("a RETIRED API cannot change; create a new version from it")
    for key in ("context", "version"):
        if key in fields and fields[key] != getattr(before, key) and before.status is not ApiStatus.CREATED:
            raise Conflict(f"{key} changes only while the API is CREATED; create a new version instead")
    current = before.model_dump(mode="json")
    definition = {key: fields.get(key, current[key]) for key in _DEFINITION}
    stored = _stored(build_config(before.tenant, definition))
    visibility = fields.get("visibility", before.visibility.value)
    visible = fields.get("visible_tenants", before.visible_tenants)
    visible = list(visible) if visibility == Visibility.RESTRICTED.value else []
    await _check_tenants(conn, visible)
    classification = fields.get("classification", before.classification.value)
    return {**stored, "visibility": visibility, "visible": visible, "classification": classification}


async def check_update(conn: Connection, api_id: str, fields: dict[str, Any]) -> Api:
    """Raises what `apply_update` would raise, writes nothing; returns the API as it is."""
    before = await _get(conn, api_id)
    await _planned(conn, before, fields)
    return before


async def apply_update(conn: Connection, actor: Actor, api_id: str, fields: dict[str, Any]) -> Api:
    """Sets `fields` (see update_fields) inside the caller's transaction, with its audit row."""
    before = await _get(conn, api_id)
    if not fields:
        return before
    plan = await _planned(conn, before, fields)
    await conn.execute(
        "UPDATE apis SET name = $2, context = $3, version = $4, description = $5, visibility = $6,"
        " visible_tenants = $7, backends = $8, resources = $9, classification = $10, groups = $11,"
        " policies = $12, updated_at = $13 WHERE id = $1",
        api_id,
        plan["name"],
        plan["context"],
        plan["version"],
        plan["description"],
        plan["visibility"],
        _json(plan["visible"]),
        _json(plan["backend"]),
        _json(plan["resources"]),
        plan["classification"],
        _json(plan["groups"]),
        _json(plan["policies"]),
        now(),
    )
    if "tags" in fields:
        await _write_tags(conn, api_id, list(fields["tags"]))
    after = await _get(conn, api_id)
    await audit.record(conn, actor, "api.update", "api", api_id, tenant_id=before.tenant_id, before=before, after=after)
    return after


def check_transition(api: Api, action: LifecycleAction) -> ApiStatus:
    """The state `action` leads to; Conflict naming the allowed actions when the state forbids it."""
    target = next_status(api.status, action, api.blocked_from)
    if target is None:
        allowed = allowed_actions(api.status)
        raise Conflict(
            f"cannot {action.value} an API that is {api.status.value}; allowed: "
            + (", ".join(allowed) if allowed else "none (final state)"),
            allowed=allowed,
        )
    return target


async def apply_transition(conn: Connection, actor: Actor, api_id: str, action: LifecycleAction) -> Api:
    """Applies a lifecycle action inside the caller's transaction, with its audit row."""
    before = await _get(conn, api_id)
    target = check_transition(before, action)
    blocked_from = before.status.value if target is ApiStatus.BLOCKED else None
    changed = await conn.execute(
        "UPDATE apis SET status = $2, blocked_from = $3, updated_at = $4 WHERE id = $1 AND status = $5",
        api_id,
        target.value,
        blocked_from,
        now(),
        before.status.value,
    )
    if changed != 1:
        raise Conflict("the API changed meanwhile; read it again")
    after = await _get(conn, api_id)
    await audit.record(
        conn, actor, f"api.{action.value}", "api", api_id, tenant_id=before.tenant_id, before=before, after=after
    )
    return after


async def get_in(conn: Connection, api_id: str) -> Api:
    """One API inside the caller's transaction (NotFound when absent)."""
    return await _get(conn, api_id)


async def _copy_attachments(conn: Connection, from_id: str, to_id: str, actor: Actor) -> int:
    """A new version keeps its source definition (for exports) and its documents; bytes are copied
    inside the database. Returns the number of documents copied."""
    stamp = now()
    await conn.execute(
        "INSERT INTO api_definitions (api_id, format, spec_version, source, size, sha256, operations,"
        " created_by, created_at) SELECT $1, format, spec_version, source, size, sha256, operations, $2, $3"
        " FROM api_definitions WHERE api_id = $4",
        to_id,
        actor.id,
        stamp,
        from_id,
    )
    rows = await conn.fetch("SELECT id FROM api_documents WHERE api_id = $1 ORDER BY created_at, id", from_id)
    for row in rows:
        await conn.execute(
            "INSERT INTO api_documents (id, api_id, title, kind, filename, content_type, size, sha256, content,"
            " url, created_by, created_at) SELECT $1, $2, title, kind, filename, content_type, size, sha256,"
            " content, url, $3, $4 FROM api_documents WHERE id = $5",
            new_id(),
            to_id,
            actor.id,
            stamp,
            row["id"],
        )
    return len(rows)


class ApiRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, actor: Actor, new: ApiCreate, *, tenant_id: str) -> Api:
        async with self._db.transaction() as conn:
            return await self.create_in(conn, actor, new, tenant_id=tenant_id)

    async def create_in(self, conn: Connection, actor: Actor, new: ApiCreate, *, tenant_id: str) -> Api:
        """`create` inside the caller's transaction (an import stores its source in the same one)."""
        data = new.model_dump(mode="json")
        slug = await conn.fetchval("SELECT slug FROM tenants WHERE id = $1", tenant_id)
        if slug is None:
            raise Invalid("tenant_id", "no such tenant")
        config = build_config(slug, {key: data[key] for key in _DEFINITION})
        visible = list(new.visible_tenants) if new.visibility is Visibility.RESTRICTED else []
        await _check_tenants(conn, visible)
        api_id = await self._insert(conn, actor, tenant_id, config, data, visible, ApiStatus.CREATED)
        after = await _get(conn, api_id)
        await audit.record(conn, actor, "api.create", "api", api_id, tenant_id=tenant_id, before=None, after=after)
        return after

    async def _insert(
        self,
        conn: Connection,
        actor: Actor,
        tenant_id: str,
        config: ApiConfig,
        catalog: dict[str, Any],
        visible: list[str],
        status: ApiStatus,
    ) -> str:
        stored = _stored(config)
        api_id, stamp = new_id(), now()
        await conn.execute(
            "INSERT INTO apis (id, tenant_id, name, context, version, description, visibility, visible_tenants,"
            " status, backends, resources, created_by, created_at, updated_at, classification, groups, policies)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            api_id,
            tenant_id,
            stored["name"],
            stored["context"],
            stored["version"],
            stored["description"],
            catalog["visibility"],
            _json(visible),
            status.value,
            _json(stored["backend"]),
            _json(stored["resources"]),
            actor.id,
            stamp,
            stamp,
            catalog["classification"],
            _json(stored["groups"]),
            _json(stored["policies"]),
        )
        await _write_tags(conn, api_id, list(catalog["tags"]))
        return api_id

    async def get(self, api_id: str) -> Api:
        async with self._db.read() as conn:
            return await _get(conn, api_id)

    async def find(self, context: str, version: str) -> Api | None:
        """The API at context+version, whatever its state, or None."""
        async with self._db.read() as conn:
            found = await _fetch(conn, "a.context = $1 AND a.version = $2", [context, version])
        return found[0] if found else None

    async def list(
        self,
        viewer: Viewer | None,
        *,
        tenant_id: str | None = None,
        status: ApiStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Api]:
        """APIs the viewer may see (all when viewer is None), by context then version."""
        where, args = visibility_sql(viewer, self._db.dialect, [])
        if tenant_id is not None:
            args.append(tenant_id)
            where += f" AND a.tenant_id = ${len(args)}"
        if status is not None:
            args.append(status.value)
            where += f" AND a.status = ${len(args)}"
        args += [limit, offset]
        tail = f"ORDER BY a.context, a.version LIMIT ${len(args) - 1} OFFSET ${len(args)}"
        async with self._db.read() as conn:
            return await _fetch(conn, where, args, tail)

    async def update(self, actor: Actor, api_id: str, change: ApiUpdate) -> Api:
        async with self._db.transaction() as conn:
            return await apply_update(conn, actor, api_id, update_fields(change))

    async def delete(self, actor: Actor, api_id: str) -> None:
        async with self._db.transaction() as conn:
            before = await _get(conn, api_id)
            if before.status not in DELETABLE:
                raise Conflict(f"an API is deleted only when CREATED or RETIRED; this one is {before.status.value}")
            await conn.execute("DELETE FROM api_tags WHERE api_id = $1", api_id)
            await conn.execute("DELETE FROM apis WHERE id = $1", api_id)
            await audit.record(
                conn, actor, "api.delete", "api", api_id, tenant_id=before.tenant_id, before=before, after=None
            )

    async def transition(self, actor: Actor, api_id: str, action: LifecycleAction) -> Api:
        """Applies a lifecycle action; Conflict (naming the allowed actions) when the state forbids it."""
        async with self._db.transaction() as conn:
            return await apply_transition(conn, actor, api_id, action)

    async def new_version(self, actor: Actor, api_id: str, version: str) -> Api:
        """Copies an API's definition under a new version, as CREATED (same owner, context, tags...)."""
        async with self._db.transaction() as conn:
            source = await _get(conn, api_id)
            definition = {**source.model_dump(mode="json"), "version": version}
            config = build_config(source.tenant, {key: definition[key] for key in _DEFINITION})
            catalog = {
                "visibility": source.visibility.value,
                "classification": source.classification.value,
                "tags": source.tags,
            }
            new_api_id = await self._insert(
                conn, actor, source.tenant_id, config, catalog, source.visible_tenants, ApiStatus.CREATED
            )
            after = await _get(conn, new_api_id)
            documents = await _copy_attachments(conn, api_id, new_api_id, actor)
            await audit.record(
                conn,
                actor,
                "api.create",
                "api",
                new_api_id,
                tenant_id=source.tenant_id,
                before=None,
                after={**after.model_dump(mode="json"), "copied_from": api_id, "documents_copied": documents},
            )
        return after

    async def search(
        self,
        viewer: Viewer | None,
        *,
        statuses: tuple[ApiStatus, ...],
        public_only: bool = False,
        q: str | None = None,
        tag: str | None = None,
        tenant: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[builtins.list[CatalogEntry], int]:
        """One page of catalog entries the viewer may see, and the total matching."""
        args: list[Any] = []
        where, args = visibility_sql(viewer, self._db.dialect, args)
        marks = []
        for status in statuses:
            args.append(status.value)
            marks.append(f"${len(args)}")
        where += f" AND a.status IN ({', '.join(marks)})"
        if public_only:
            where += " AND a.visibility = 'public'"
        if q:
            args.append(_like(q))
            n = len(args)
            where += (
                f" AND (lower(a.name) LIKE ${n} ESCAPE '\\' OR lower(a.description) LIKE ${n} ESCAPE '\\'"
                f" OR lower(a.context) LIKE ${n} ESCAPE '\\')"
            )
        if tag:
            args.append(tag.strip().lower())
            where += f" AND EXISTS (SELECT 1 FROM api_tags g WHERE g.api_id = a.id AND g.tag = ${len(args)})"
        if tenant:
            args.append(tenant)
            where += f" AND (t.slug = ${len(args)} OR t.id = ${len(args)})"
        async with self._db.read() as conn:
            total = int(
                await conn.fetchval(
                    f"SELECT count(*) FROM apis a JOIN tenants t ON t.id = a.tenant_id WHERE {where}", *args
                )
            )
            page_args = [*args, limit, offset]
            tail = f"ORDER BY a.name, a.version, a.id LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}"
            rows = await conn.fetch(f"{_SELECT} WHERE {where} {tail}", *page_args)
            tags = await _tags(conn, [row["id"] for row in rows])
        entries = [
            CatalogEntry(
                id=row["id"],
                name=row["name"],
                context=row["context"],
                version=row["version"],
                description=row["description"],
                tags=tags[row["id"]],
                classification=row["classification"],
                status=row["status"],
                tenant_id=row["tenant_id"],
                tenant=row["tenant_slug"],
                tenant_name=row["tenant_name"],
                resources=json_column(row["resources"]),
                updated_at=row["updated_at"],
            )
            for row in rows
        ]
        return entries, total

    async def served(self) -> builtins.list[Api]:
        """Every API a gateway serves (PUBLISHED and DEPRECATED), by context then version."""
        async with self._db.read() as conn:
            return await _fetch(
                conn,
                "a.status IN ($1, $2)",
                [ApiStatus.PUBLISHED.value, ApiStatus.DEPRECATED.value],
                "ORDER BY a.context, a.version",
            )
