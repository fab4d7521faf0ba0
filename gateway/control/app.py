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
from gateway.catalog.store import CatalogStore, open_store
from gateway.config.keymanagers import ResidentConfig
from gateway.config.model import LoadedConfig
from gateway.control import errors
from gateway.control.dashboard_page import DASHBOARD_ITEM, DASHBOARD_PATH, dashboard_routes
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


def _probe_item(operation: str, summary: str, statuses: dict[str, str]) -> dict[str, Any]:
    responses = {
        status: {"description": text, "content": {"application/json": {"schema": {"type": "object"}}}}
        for status, text in statuses.items()
    }
    return {
        "get": {
            "operationId": operation,
            "summary": summary,
            "tags": ["system"],
            "security": [],
            "x-roles": [],
            "responses": responses,
        }
    }


_PROBE_ITEMS = {  # for balancers and Kubernetes probes, outside /api/v1
    "/_health": _probe_item("probe_health", "Liveness of the process", {"200": "alive"}),
    "/_ready": _probe_item(
        "probe_ready",
        "Readiness, with the catalog store's state (a store outage keeps it 200: callers then get 503)",
        {"200": "ready or degraded", "503": "starting or stopping"},
    ),
}


async def _token_service(config: LoadedConfig, key_file: str, token_ttl: int) -> LocalTokens | ResidentTokens:
    """The resident key manager's keys when gateway.yaml declares one, else the control API's own key."""
    resident = next((km for km in config.gateway.key_managers if isinstance(km, ResidentConfig)), None)
    if resident is not None:
        return await ResidentTokens.open(resident, expires_in=token_ttl)
    return await asyncio.to_thread(LocalTokens.from_file, key_file, expires_in=token_ttl)


async def _store_problem(store: CatalogStore) -> str | None:
    try:
        async with asyncio.timeout(1.0), store.db.read() as conn:
            await conn.fetchval("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - a readiness probe reports, it never raises
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return None


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

    document = build_document(
        ENDPOINTS,
        {_OPENAPI_PATH: _OPENAPI_ITEM, DOCS_PATH: _DOCS_ITEM, DASHBOARD_PATH: DASHBOARD_ITEM, **_PROBE_ITEMS},
    )

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> Response:
        """200 while this process can answer (its store state in `stores`), 503 while starting or stopping:
        a store outage keeps it in rotation, so callers get 503 + Retry-After instead of no answer."""
        current = state.get("services")
        if current is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        problem = await _store_problem(current.store)
        return JSONResponse({"status": "degraded" if problem else "ready", "stores": {"catalog": problem or "ok"}})

    routes: list[BaseRoute] = [endpoint.route(services) for endpoint in ENDPOINTS]
    routes.append(Route(_OPENAPI_PATH, openapi, methods=["GET"], name="openapi"))
    routes.extend(docs_routes(_OPENAPI_PATH))
    routes += dashboard_routes()
    routes.append(Route("/_health", health, methods=["GET"], name="health"))
    routes.append(Route("/_ready", ready, methods=["GET"], name="ready"))

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
