"""The OpenAPI 3.1 document, built from the same `Endpoint` list the app serves: paths, methods,
parameters, request bodies and responses (schemas from the pydantic models), errors as problem+json,
and per operation the roles that may call it (`x-roles`, also said in its description)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.catalog.models import Role
from gateway.control.endpoints import MAX_BODY, Endpoint
from gateway.version import VERSION

_REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details, as the gateway answers errors.",
    "required": ["type", "title", "status", "detail", "code", "request_id"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "integer"},
        "request_id": {"type": ["string", "null"]},
        "errors": {
            "type": "array",
            "description": "Field problems (422 only).",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}

_ERRORS = {
    "400": "Malformed JSON",
    "401": "Missing, invalid or expired token",
    "403": "The caller's role may not do this",
    "404": "No such object, or outside the caller's tenant scope",
    "409": "Duplicate, or contradicts the current state",
    "413": "Body larger than 1 MiB",
    "415": "Body not application/json",
    "422": "Invalid fields (see `errors`)",
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": _REF.format(model="Problem")}}},
    }


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": _REF.format(model=model.__name__)}


def callers(endpoint: Endpoint) -> list[str]:
    """The roles that may call an endpoint, from the same table that guards it: [] when public, every
    role when any signed-in user may."""
    if endpoint.public:
        return []
    allowed = endpoint.roles if endpoint.roles is not None else frozenset(Role)
    return [role.value for role in Role if role in allowed]


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.name,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
    }
    roles = callers(endpoint)
    operation["x-roles"] = roles
    who = "Roles: " + (", ".join(f"`{role}`" for role in roles) if roles else "none (no token needed)") + "."
    if endpoint.roles is None and not endpoint.public:
        who = "Roles: any signed-in user (the object's tenant and owner decide what it reaches)."
    operation["description"] = f"{endpoint.description}\n\n{who}" if endpoint.description else who
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(endpoint.path)
    ]
    for param in endpoint.query:
        schema: dict[str, Any] = {"type": "integer" if param.kind is int else "string"}
        if param.minimum is not None:
            schema["minimum"] = param.minimum
        if param.maximum is not None:
            schema["maximum"] = param.maximum
        if param.default is not None:
            schema["default"] = param.default
        parameters.append(
            {"name": param.name, "in": "query", "required": False, "description": param.description, "schema": schema}
        )
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(endpoint.body)}}}
    responses: dict[str, Any] = {}
    status = str(endpoint.status)
    if endpoint.produces is not None:
        content = {endpoint.produces: {"schema": {"type": "string", "format": "binary"}}}
        responses[status] = {"description": "OK", "content": content}
    elif endpoint.response is None:
        responses[status] = {"description": "Done, no content" if endpoint.status == 204 else "OK"}
    else:
        schema = _ref(endpoint.response)
        if endpoint.many:
            schema = {
                "type": "object",
                "required": ["items", "limit", "offset"],
                "properties": {
                    "items": {"type": "array", "items": schema},
                    "limit": {"type": "integer"},
                    "offset": {"type": "integer"},
                },
            }
        responses[status] = {"description": "OK", "content": {"application/json": {"schema": schema}}}
    if endpoint.accepted is not None:
        responses["202"] = {
            "description": "Accepted: the change waits for approval",
            "content": {"application/json": {"schema": _ref(endpoint.accepted)}},
        }
    codes = ["400", "413", "415", "422"] if endpoint.body is not None else []
    if endpoint.query:
        codes.append("422")
    if not endpoint.public:
        codes += ["401", "403", "404"]
    elif endpoint.body is not None:
        codes.append("401")
    if endpoint.method in ("POST", "PUT", "DELETE") and not endpoint.public:
        codes.append("409")
    for code in sorted(set(codes)):
        responses[code] = _problem(_ERRORS[code])
    if "413" in responses and endpoint.max_body != MAX_BODY:
        responses["413"] = _problem(f"Body larger than {endpoint.max_body} bytes")
    operation["responses"] = responses
    if endpoint.public:
        operation["security"] = []
    return operation


def build_document(endpoints: Sequence[Endpoint], extra_paths: dict[str, Any] | None = None) -> dict[str, Any]:
    inputs = {e.body for e in endpoints if e.body is not None}
    outputs = {e.response for e in endpoints if e.response is not None}
    outputs |= {e.accepted for e in endpoints if e.accepted is not None}
    pairs = [(m, "validation") for m in sorted(inputs, key=lambda m: m.__name__)]
    pairs += [(m, "serialization") for m in sorted(outputs - inputs, key=lambda m: m.__name__)]
    _, top = models_json_schema(pairs, ref_template=_REF)  # type: ignore[arg-type]
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, Any] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    for path, item in (extra_paths or {}).items():
        paths.setdefault(path, {}).update(item)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SPLP control API",
            "version": VERSION,
            "description": "Tenants, users, roles and the API catalog of SPLP. Sign in with POST /api/v1/auth/token.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearer": []}],
    }
