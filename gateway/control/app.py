"""The control API shell (Starlette, its own port, 127.0.0.1 by default).

This issue ships only what needs no authentication: liveness and the OpenAPI document. Catalog,
tenants, keys and ETL routes join here with role and tenant checks (issues 3, 4, 6); until then no
route can read or change anything, which is the safe default.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.config.model import LoadedConfig
from gateway.version import VERSION


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def health(request: Request) -> Response:
    """Liveness of the control API."""
    return JSONResponse({"status": "ok", "version": VERSION})


def openapi_document(routes: list[Route]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in routes:
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(route.path, {})[method.lower()] = {
                "summary": (route.endpoint.__doc__ or route.name).strip().splitlines()[0],
                "operationId": route.name,
                "responses": {"200": {"description": "OK"}},
            }
    return {"openapi": "3.1.0", "info": {"title": "SPLP control API", "version": VERSION}, "paths": paths}


def create_control_app(config: LoadedConfig) -> Starlette:
    routes = [Route("/api/v1/health", health, methods=["GET"], name="health")]

    async def openapi(request: Request) -> Response:
        """The OpenAPI 3.1 document of this API."""
        return JSONResponse(document)

    routes.append(Route("/api/v1/openapi.json", openapi, methods=["GET"], name="openapi"))
    document = openapi_document(routes)
    return Starlette(routes=routes)
