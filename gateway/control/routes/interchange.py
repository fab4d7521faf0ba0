"""API definitions in and out: import OpenAPI 3.x / Swagger 2.0 / WSDL 1.1 as a new API, export any API
as OpenAPI 3.1 and an imported SOAP API as WSDL (addresses at the gateway, never the backend).

Importing: publishers, tenant admins and super admins, into a tenant of their scope (another tenant:
422, as for POST /apis). Reading: whoever sees the API (gateway/catalog/visibility.py); others 404.
Parsing runs in a worker thread: a 5 MiB definition is CPU work the event loop should not wait on.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from starlette.responses import Response

from gateway.catalog.api_models import Api
from gateway.catalog.document_models import ApiDefinition, ApiImport
from gateway.catalog.errors import Invalid, NotFound
from gateway.catalog.interchange import export_openapi, export_wsdl, parse_definition
from gateway.catalog.interchange.limits import MAX_DEFINITION_BYTES
from gateway.control import errors
from gateway.control.endpoints import Call, Endpoint, JSONResponse, QueryParam
from gateway.control.routes.apis import WRITERS, visible_api

# a JSON string may double the definition's size with escapes (\n, \")
IMPORT_MAX_BODY = 2 * MAX_DEFINITION_BYTES + 64 * 1024


async def import_api(call: Call) -> Api:
    body: ApiImport = call.body
    principal = call.principal
    tenant_id = body.tenant_id or principal.tenant_id
    if not principal.sees(tenant_id):
        raise Invalid("tenant_id", "no such tenant")
    imported = await asyncio.to_thread(parse_definition, body.definition, body.format)
    return await call.store.definitions.import_api(principal.actor, body, imported, tenant_id=tenant_id)


def _prefix(call: Call, api: Api) -> str:
    base = call.query["gateway_url"] or call.services.gateway_url
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise errors.invalid(
            [{"loc": ["query", "gateway_url"], "msg": "expected http(s)://host[:port][/path]", "type": "url"}]
        )
    return f"{base.rstrip('/')}{api.context}/{api.version}"


async def get_definition(call: Call) -> ApiDefinition:
    api = await visible_api(call)
    return await call.store.definitions.get(api.id)


async def export_openapi_document(call: Call) -> Response:
    api = await visible_api(call)
    prefix = _prefix(call, api)
    stored = await call.store.definitions.source(api.id)
    fmt, source = (stored[0].format, stored[1]) if stored is not None else (None, None)
    document = await asyncio.to_thread(export_openapi, api, prefix, fmt, source)
    return JSONResponse(document)


async def export_wsdl_document(call: Call) -> Response:
    api = await visible_api(call)
    prefix = _prefix(call, api)
    stored = await call.store.definitions.source(api.id)
    if stored is None or stored[0].format != "wsdl":
        raise NotFound(f"API {api.id} was not imported from WSDL")
    xml = await asyncio.to_thread(export_wsdl, prefix, stored[1])
    return Response(xml, media_type="text/xml; charset=utf-8", headers={"x-content-type-options": "nosniff"})


_TAG = "interchange"
_ID = "/api/v1/apis/{id}"
_GATEWAY_URL = QueryParam("gateway_url", "Base URL of the gateway in the document; default: the configured one.")
ENDPOINTS = (
    Endpoint(
        "POST",
        "/api/v1/apis/import",
        import_api,
        "Register an API (CREATED) from an OpenAPI 3.0/3.1, Swagger 2.0 or WSDL 1.1 definition",
        _TAG,
        roles=WRITERS,
        body=ApiImport,
        response=Api,
        status=201,
        max_body=IMPORT_MAX_BODY,
        description="Resources come from the paths x methods (WSDL: POST per SOAP address), the backend from the "
        "first absolute server unless `backend` is sent. References outside the document ($ref not starting with #, "
        "wsdl:import or xsd:import with a location) are refused, never fetched; so are DOCTYPEs. Problems: 422 with "
        "`errors` naming the JSON pointer or XML element; duplicate context + version: 409.",
    ),
    Endpoint(
        "GET",
        _ID + "/definition",
        get_definition,
        "What an imported API was imported from: format, size, hash, operations (with SOAPAction)",
        _TAG,
        response=ApiDefinition,
    ),
    Endpoint(
        "GET",
        _ID + "/openapi",
        export_openapi_document,
        "The API as an OpenAPI 3.1 document, servers at the gateway",
        _TAG,
        query=(_GATEWAY_URL,),
        produces="application/json",
        description="An imported API keeps its original operations (parameters, bodies, responses, schemas).",
    ),
    Endpoint(
        "GET",
        _ID + "/wsdl",
        export_wsdl_document,
        "An API imported from WSDL, its port addresses at the gateway",
        _TAG,
        query=(_GATEWAY_URL,),
        produces="text/xml",
        description="404 when the API was not imported from WSDL.",
    ),
)
