"""A catalog `Api` as the store would answer it, for export tests that need no database."""

from __future__ import annotations

from typing import Any

from gateway.catalog.api_models import Api
from gateway.catalog.interchange import Imported


def api_of(imported: Imported, **changes: Any) -> Api:
    fields: dict[str, Any] = {
        "id": "api-1",
        "tenant_id": "t-1",
        "tenant": "bappenas",
        "name": imported.name,
        "context": "/bappenas/" + imported.slug,
        "version": imported.version,
        "description": imported.description,
        "tags": list(imported.tags),
        "classification": "internal",
        "visibility": "tenant",
        "visible_tenants": [],
        "groups": ["default"],
        "backend": {"endpoints": [{"url": imported.backend_url, "weight": 1}]},
        "resources": list(imported.resources),
        "policies": [],
        "status": "CREATED",
        "blocked_from": None,
        "created_by": None,
        "created_at": "2025-01-01T00:00:00.000000Z",
        "updated_at": "2025-01-01T00:00:00.000000Z",
    }
    return Api.model_validate({**fields, **changes})
