"""The OpenAPI document matches the served routes, with request bodies from the pydantic models."""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import Route

from gateway.catalog.models import Role
from gateway.control.app import create_control_app
from tests.gateway.control.conftest import Control, loaded_config

SLIDES = {
    ("GET", "/api/v1/myaccount/profile"),
    ("PUT", "/api/v1/myaccount/profile"),
    ("PUT", "/api/v1/myaccount/change-password"),
    ("GET", "/api/v1/myaccount/institution/profile"),
    ("PUT", "/api/v1/myaccount/institution/profile"),
    ("GET", "/api/v1/institutions/{id}/internal"),
    ("GET", "/api/v1/institutions/{id}/internal/{internal_id}"),
    ("GET", "/api/v1/institution-users"),
    ("POST", "/api/v1/institution-users"),
    ("GET", "/api/v1/institution-users/{id}"),
    ("PUT", "/api/v1/institution-users/{id}"),
    ("DELETE", "/api/v1/institution-users/{id}"),
}
CATALOG = {
    ("GET", "/api/v1/apis"),
    ("POST", "/api/v1/apis"),
    ("GET", "/api/v1/apis/{id}"),
    ("PUT", "/api/v1/apis/{id}"),
    ("DELETE", "/api/v1/apis/{id}"),
    ("POST", "/api/v1/apis/{id}/lifecycle"),
    ("POST", "/api/v1/apis/{id}/versions"),
    ("GET", "/api/v1/catalog"),
    ("GET", "/api/v1/public/catalog"),
    ("GET", "/api/v1/dashboard/stats"),
}
CONSUMERS = {
    ("GET", "/api/v1/applications"),
    ("POST", "/api/v1/applications"),
    ("GET", "/api/v1/applications/{id}"),
    ("PUT", "/api/v1/applications/{id}"),
    ("DELETE", "/api/v1/applications/{id}"),
    ("POST", "/api/v1/applications/{id}/keys"),
    ("DELETE", "/api/v1/applications/{id}/keys/{key_id}"),
    ("POST", "/api/v1/applications/{id}/secret"),
    ("POST", "/api/v1/applications/{id}/shares"),
    ("DELETE", "/api/v1/applications/{id}/shares/{user_id}"),
    ("GET", "/api/v1/subscriptions"),
    ("POST", "/api/v1/subscriptions"),
    ("GET", "/api/v1/subscriptions/{id}"),
    ("DELETE", "/api/v1/subscriptions/{id}"),
    ("POST", "/api/v1/subscriptions/{id}/block"),
    ("POST", "/api/v1/subscriptions/{id}/unblock"),
    ("GET", "/api/v1/tenants/{id}/approval-settings"),
    ("PUT", "/api/v1/tenants/{id}/approval-settings"),
    ("GET", "/api/v1/approvals"),
    ("POST", "/api/v1/approvals/{id}/approve"),
    ("POST", "/api/v1/approvals/{id}/reject"),
}


def _resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/components/schemas/")
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]]  # type: ignore[no-any-return]


def test_every_route_is_documented_and_nothing_else() -> None:
    app = create_control_app(loaded_config())
    document = app.state.openapi
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert served == documented
    assert SLIDES <= served and CATALOG <= served and CONSUMERS <= served
    assert document["openapi"] == "3.1.0"
    operation_ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_bodies_parameters_and_refs() -> None:
    document = create_control_app(loaded_config()).state.openapi
    post = document["paths"]["/api/v1/institution-users"]["post"]
    schema = _resolve(document, post["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert set(schema["required"]) == {"username", "password", "role"}
    assert schema["additionalProperties"] is False
    assert "422" in post["responses"] and "409" in post["responses"] and "201" in post["responses"]
    item = document["paths"]["/api/v1/institutions/{id}/internal/{internal_id}"]["get"]
    assert [(p["name"], p["in"]) for p in item["parameters"]] == [("id", "path"), ("internal_id", "path")]
    listing = document["paths"]["/api/v1/institution-users"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"tenant_id", "limit", "offset"}
    assert document["paths"]["/api/v1/auth/token"]["post"]["security"] == []
    assert document["paths"]["/api/v1/public/catalog"]["get"]["security"] == []
    create_api = document["paths"]["/api/v1/apis"]["post"]
    api_schema = _resolve(document, create_api["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert set(api_schema["required"]) == {"name", "context", "version", "backend"}
    assert "409" in create_api["responses"] and "201" in create_api["responses"]
    for method, path in (("put", "/api/v1/apis/{id}"), ("post", "/api/v1/apis/{id}/lifecycle")):
        waiting = document["paths"][path][method]["responses"]["202"]["content"]["application/json"]["schema"]
        assert waiting == {"$ref": "#/components/schemas/ApprovalRequest"}
    created = document["paths"]["/api/v1/applications"]["post"]["responses"]["201"]["content"]["application/json"]
    assert "client_secret" in _resolve(document, created["schema"]["$ref"])["properties"]
    search = document["paths"]["/api/v1/catalog"]["get"]
    assert {p["name"] for p in search["parameters"]} == {"q", "tag", "tenant", "page", "per_page"}

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(document):
        _resolve(document, ref)  # every reference resolves


async def test_served_document_is_the_built_one(control: Control) -> None:
    status, served = await control.call("GET", "/openapi.json")
    assert status == 200 and "/api/v1/institution-users/{id}" in served["paths"]
    status, health = await control.call("GET", "/health")
    assert status == 200 and health["status"] == "ok"


def test_roles_per_operation_come_from_the_endpoint_table() -> None:
    """x-roles (and the description) say who may call each operation, from the same Endpoint list that
    guards the routes: they cannot drift."""
    from gateway.control.routes import ENDPOINTS

    document = create_control_app(loaded_config()).state.openapi
    for endpoint in ENDPOINTS:
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        expected = [] if endpoint.public else sorted(r.value for r in (endpoint.roles or Role))
        assert sorted(operation["x-roles"]) == expected, endpoint.path
        assert "Roles: " in operation["description"]
    block = document["paths"]["/api/v1/applications/{id}/block"]["post"]
    assert block["x-roles"] == ["super_admin", "tenant_admin"]
    assert block["description"].endswith("Roles: `super_admin`, `tenant_admin`.")
    token = document["paths"]["/api/v1/auth/token"]["post"]
    assert token["x-roles"] == [] and token["description"].endswith("Roles: none (no token needed).")


async def test_docs_page_is_served_from_the_package(control: Control) -> None:
    """The Swagger UI page and every asset it names come from this server (no CDN); the page points at the
    served document."""
    root = control.base.removesuffix("/api/v1")
    async with control.http.get(control.base + "/docs") as response:
        assert response.status == 200 and response.headers["content-type"].startswith("text/html")
        page = await response.text()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(assets) == 4 and all(a.startswith("/api/v1/docs/assets/") for a in assets), assets
    assert 'url: "/api/v1/openapi.json"' in page and "//" not in "".join(assets)
    for asset in assets:
        async with control.http.get(root + asset) as response:
            body = await response.read()
            assert response.status == 200 and len(body) > 500, asset
    async with control.http.get(root + "/api/v1/docs/assets/swagger-ui-bundle.js") as response:
        assert b"isOAS31" in await response.read()  # Swagger UI 5: renders OpenAPI 3.1
