"""The control API (Starlette, orjson), on its own port (127.0.0.1:8001 by default), under /api/v1.

Startup opens the catalog store (storage.catalog: the SQLite file under var/splp/ by default, created
with its folder when missing; migrations applied) and the token keys: the resident key manager's key
ring when gateway.yaml declares one (resident_tokens.py), else var/splp/control-token-key.pem unless
told otherwise (generated on first start). Routes come from routes.ENDPOINTS; the OpenAPI 3.1
document at /api/v1/openapi.json is built from the same list, and /api/v1/docs shows it (docs.py).
The ETL (routes/etl.py) reads job files from conf/etl and queues runs for the ETL workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.catalog.passwords import PasswordHasher
from gateway.catalog.store import open_store
from gateway.config.keymanagers import ResidentConfig
from gateway.config.model import LoadedConfig
from gateway.control import errors
from gateway.control.docs import DOCS_PATH, docs_routes
from gateway.control.endpoints import ControlServices, JSONResponse
from gateway.control.errors import ApiError, problem_response
from gateway.control.openapi import build_document
from gateway.control.resident_tokens import ResidentTokens
from gateway.control.routes import ENDPOINTS
from gateway.control.routes.etl import EtlHub
from gateway.control.tokens import LocalTokens

DEFAULT_KEY_PATH = "var/splp/control-token-key.pem"
KEY_PATH_ENV = "SPLP_CONTROL_TOKEN_KEY"

_OPENAPI_PATH = "/api/v1/openapi.json"
_OPENAPI_ITEM = {
    "get": {
        "operationId": "openapi",
        "summary": "The OpenAPI 3.1 document of this API",
        "tags": ["system"],
        "security": [],
        "x-roles": [],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}},
    }
}
_DOCS_ITEM = {
    "get": {
        "operationId": "docs",
        "summary": "This document as a browsable page (Swagger UI, served from the package: no CDN)",
        "tags": ["system"],
        "security": [],
        "x-roles": [],
        "responses": {"200": {"description": "OK", "content": {"text/html": {"schema": {"type": "string"}}}}},
    }
}


async def _token_service(config: LoadedConfig, key_file: str, token_ttl: int) -> LocalTokens | ResidentTokens:
    """The resident key manager's keys when gateway.yaml declares one, else the control API's own key."""
    resident = next((km for km in config.gateway.key_managers if isinstance(km, ResidentConfig)), None)
    if resident is not None:
        return await ResidentTokens.open(resident, expires_in=token_ttl)
    return await asyncio.to_thread(LocalTokens.from_file, key_file, expires_in=token_ttl)


def create_control_app(
    config: LoadedConfig,
    *,
    catalog_uri: str | None = None,
    key_path: str | None = None,
    hasher: PasswordHasher | None = None,
    token_ttl: int = 900,
    etl_jobs_dir: str | Path | None = None,
    gateway_url: str | None = None,
) -> Starlette:
    """The control app; the store and key open in its lifespan (uvicorn runs it with lifespan on).

    ETL: job files in `etl_jobs_dir` (default: `etl/` beside the gateway config file, i.e. conf/etl); run
    records in the catalog; runs are queued for ETL workers (`splp etl worker`), never executed here.
    `gateway_url` (default: gateway.public_url, else the gateway listener) is where exported OpenAPI and
    WSDL documents send consumers.
    """
    jobs_dir = Path(etl_jobs_dir) if etl_jobs_dir is not None else Path(config.path).parent / "etl"
    uri = catalog_uri or config.gateway.storage.catalog
    public_url = (gateway_url or config.gateway.gateway.base_url()).rstrip("/")
    key_file = key_path or os.environ.get(KEY_PATH_ENV) or DEFAULT_KEY_PATH
    state: dict[str, ControlServices] = {}

    def services() -> ControlServices:
        try:
            return state["services"]
        except KeyError:
            raise ApiError(errors.INTERNAL, "the control API is starting or stopping") from None

    document = build_document(ENDPOINTS, {_OPENAPI_PATH: _OPENAPI_ITEM, DOCS_PATH: _DOCS_ITEM})

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    routes: list[BaseRoute] = [endpoint.route(services) for endpoint in ENDPOINTS]
    routes.append(Route(_OPENAPI_PATH, openapi, methods=["GET"], name="openapi"))
    routes.extend(docs_routes(_OPENAPI_PATH))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tokens = await _token_service(config, key_file, token_ttl)
        store = await open_store(uri)
        etl = EtlHub(jobs_dir, uri)
        state["services"] = ControlServices(
            store=store,
            issuer=tokens,
            verifier=tokens,
            hasher=hasher or PasswordHasher(),
            etl=etl,
            tiers=config.gateway.tiers,
            gateway_url=public_url,
            key_managers=frozenset(km.name for km in config.gateway.key_managers),
            catalog_uri=uri,
        )
        try:
            yield
        finally:
            del state["services"]
            try:
                await etl.close()
            finally:
                await store.close()

    async def http_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException):  # registered for HTTPException only
            raise exc
        problem = {404: errors.NOT_FOUND, 405: errors.METHOD_NOT_ALLOWED}.get(exc.status_code, errors.BAD_REQUEST)
        headers = {"allow": exc.headers["allow"]} if exc.headers and "allow" in exc.headers else None
        detail = f"no route {request.method} {request.url.path}"
        return problem_response(ApiError(problem, detail), os.urandom(16).hex(), headers)

    handlers: dict[Any, Any] = {HTTPException: http_error}
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    app.state.openapi = document
    return app
