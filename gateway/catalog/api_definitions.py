"""Imported APIs: the API created from a definition and its source text, in one transaction.

The source is kept verbatim (one per API) for the exports; the audit log records the import
(format, size, hash, operation count), not the text itself.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from pydantic import ValidationError

from gateway.catalog import audit
from gateway.catalog.api_models import Api, ApiCreate
from gateway.catalog.apis import ApiRepository
from gateway.catalog.audit import Actor
from gateway.catalog.db import Database, Row
from gateway.catalog.document_models import ApiDefinition, ApiImport
from gateway.catalog.errors import Invalid, NotFound
from gateway.catalog.interchange import Imported
from gateway.catalog.util import now

_COLUMNS = "api_id, format, spec_version, size, sha256, operations, created_by, created_at"


def _definition(row: Row) -> ApiDefinition:
    operations = row["operations"]
    return ApiDefinition.model_validate(
        {**row, "operations": orjson.loads(operations) if isinstance(operations, str | bytes) else operations}
    )


def create_model(request: ApiImport, imported: Imported, tenant_slug: str) -> ApiCreate:
    """The catalog API an import creates: the caller's values first, then what the definition suggests."""
    if request.backend is not None:
        backend: Any = request.backend.model_dump(mode="json", exclude_none=True)
    elif imported.backend_url is not None:
        backend = {"endpoints": [imported.backend_url]}
    else:
        raise Invalid(
            "backend", "the definition names no absolute http(s) server; send `backend` with the backend's URL"
        )
    data = {
        "tenant_id": request.tenant_id,
        "name": imported.name,
        "context": request.context or f"/{tenant_slug}/{imported.slug}",
        "version": request.version or imported.version,
        "description": imported.description,
        "tags": list(request.tags if request.tags is not None else imported.tags),
        "classification": request.classification.value,
        "visibility": request.visibility.value,
        "backend": backend,
        "resources": list(imported.resources),
    }
    try:
        return ApiCreate.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]
        raise Invalid(str(errors[0]["loc"][0]), errors[0]["msg"], problems) from None


class DefinitionRepository:
    def __init__(self, db: Database, apis: ApiRepository) -> None:
        self._db = db
        self._apis = apis

    async def import_api(self, actor: Actor, request: ApiImport, imported: Imported, *, tenant_id: str) -> Api:
        """Creates the API (CREATED, audited as api.create) and stores its source (api_definition.import)."""
        source = imported.source.encode()
        async with self._db.transaction() as conn:
            slug = await conn.fetchval("SELECT slug FROM tenants WHERE id = $1", tenant_id)
            if slug is None:
                raise Invalid("tenant_id", "no such tenant")
            api = await self._apis.create_in(conn, actor, create_model(request, imported, slug), tenant_id=tenant_id)
            stamp = now()
            definition = ApiDefinition(
                api_id=api.id,
                format=imported.format,
                spec_version=imported.spec_version,
                size=len(source),
                sha256=hashlib.sha256(source).hexdigest(),
                operations=list(imported.operations),
                created_by=actor.id,
                created_at=stamp,
            )
            await conn.execute(
                f"INSERT INTO api_definitions ({_COLUMNS}, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                api.id,
                definition.format,
                definition.spec_version,
                definition.size,
                definition.sha256,
                orjson.dumps(definition.operations).decode(),
                actor.id,
                stamp,
                imported.source,
            )
            summary = definition.model_dump(mode="json", exclude={"operations"})
            await audit.record(
                conn,
                actor,
                "api_definition.import",
                "api_definition",
                api.id,
                tenant_id=tenant_id,
                before=None,
                after={**summary, "operation_count": len(definition.operations)},
            )
        return api

    async def get(self, api_id: str) -> ApiDefinition:
        async with self._db.read() as conn:
            row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM api_definitions WHERE api_id = $1", api_id)
        if row is None:
            raise NotFound(f"API {api_id} was not imported from a definition")
        return _definition(row)

    async def source(self, api_id: str) -> tuple[ApiDefinition, str] | None:
        async with self._db.read() as conn:
            row = await conn.fetchrow(f"SELECT {_COLUMNS}, source FROM api_definitions WHERE api_id = $1", api_id)
        if row is None:
            return None
        text = row.pop("source")
        return _definition(row), text
