"""Swagger 2.0 parts in OpenAPI 3.1 shape, for the export of an API imported from Swagger: parameters
carry a `schema`, `in: body` / `in: formData` become a `requestBody`, response schemas move under
`content`, `definitions` / `parameters` / `responses` / `securityDefinitions` become `components`."""

from __future__ import annotations

import copy
from typing import Any

_SCHEMA_KEYS = (
    "type",
    "format",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
)
_PARAMETER_KEYS = ("name", "in", "description", "required", "deprecated", "allowEmptyValue")
_REFS = {
    "#/definitions/": "#/components/schemas/",
    "#/parameters/": "#/components/parameters/",
    "#/responses/": "#/components/responses/",
}
_FLOWS = {
    "implicit": "implicit",
    "password": "password",
    "application": "clientCredentials",
    "accessCode": "authorizationCode",
}


def _schema(item: dict[str, Any]) -> dict[str, Any]:
    schema = {key: item[key] for key in _SCHEMA_KEYS if key in item}
    if schema.get("type") == "file":
        schema = {"type": "string", "format": "binary"}
    if isinstance(schema.get("items"), dict):
        schema["items"] = _schema(schema["items"]) if "$ref" not in schema["items"] else schema["items"]
    return schema


def parameter(item: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in item:
        return dict(item)
    out = {key: item[key] for key in _PARAMETER_KEYS if key in item}
    out["schema"] = _schema(item)
    return out


def _body(item: dict[str, Any], consumes: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"content": {kind: {"schema": item.get("schema", {})} for kind in consumes}}
    if item.get("description"):
        body["description"] = item["description"]
    if item.get("required"):
        body["required"] = True
    return body


def _form(items: list[dict[str, Any]], consumes: list[str]) -> dict[str, Any]:
    multipart = any(i.get("type") == "file" for i in items) or "multipart/form-data" in consumes
    schema: dict[str, Any] = {"type": "object", "properties": {i["name"]: _schema(i) for i in items if "name" in i}}
    required = [i["name"] for i in items if i.get("required") and "name" in i]
    if required:
        schema["required"] = required
    kind = "multipart/form-data" if multipart else "application/x-www-form-urlencoded"
    return {"content": {kind: {"schema": schema}}}


def response(item: dict[str, Any], produces: list[str]) -> dict[str, Any]:
    if "$ref" in item:
        return dict(item)
    out: dict[str, Any] = {"description": item.get("description", "")}
    if "schema" in item:
        out["content"] = {kind: {"schema": item["schema"]} for kind in produces}
    headers = item.get("headers")
    if isinstance(headers, dict):
        out["headers"] = {
            name: {"description": h.get("description", ""), "schema": _schema(h)}
            for name, h in headers.items()
            if isinstance(h, dict)
        }
    return out


def merge_parameters(shared: Any, own: Any) -> list[Any]:
    """A path item's parameters followed by an operation's; the operation's win on (name, in)."""
    own = copy.deepcopy(own) if isinstance(own, list) else []
    taken = {(p.get("name"), p.get("in")) for p in own if isinstance(p, dict)}
    shared = shared if isinstance(shared, list) else []
    inherited = [p for p in shared if not (isinstance(p, dict) and (p.get("name"), p.get("in")) in taken)]
    return [*copy.deepcopy(inherited), *own]


def operation(item: dict[str, Any], document: dict[str, Any], shared: list[Any]) -> dict[str, Any]:
    """A 2.0 operation (with its path item's `parameters` in `shared`) as a 3.1 operation."""
    consumes = item.get("consumes") or document.get("consumes") or ["application/json"]
    produces = item.get("produces") or document.get("produces") or ["application/json"]
    skip = ("parameters", "responses", "consumes", "produces", "schemes")
    out: dict[str, Any] = {key: value for key, value in item.items() if key not in skip}
    parameters: list[dict[str, Any]] = []
    form: list[dict[str, Any]] = []
    for p in merge_parameters(shared, item.get("parameters")):
        if not isinstance(p, dict):
            continue
        if p.get("in") == "body":
            out["requestBody"] = _body(p, consumes)
        elif p.get("in") == "formData":
            form.append(p)
        else:
            parameters.append(parameter(p))
    if form:
        out["requestBody"] = _form(form, consumes)
    if parameters:
        out["parameters"] = parameters
    responses = item.get("responses") or {}
    out["responses"] = {code: response(r, produces) for code, r in responses.items() if isinstance(r, dict)}
    return rewrite_refs(out)  # type: ignore[no-any-return]


def _security_scheme(item: dict[str, Any]) -> dict[str, Any]:
    kind = item.get("type")
    if kind == "basic":
        return {"type": "http", "scheme": "basic"}
    if kind == "oauth2":
        flow: dict[str, Any] = {"scopes": item.get("scopes") or {}}
        for key in ("authorizationUrl", "tokenUrl"):
            if key in item:
                flow[key] = item[key]
        return {"type": "oauth2", "flows": {_FLOWS.get(item.get("flow", ""), "implicit"): flow}}
    return {key: item[key] for key in ("type", "name", "in", "description") if key in item}


def components(document: dict[str, Any]) -> dict[str, Any]:
    produces = document.get("produces") or ["application/json"]
    out: dict[str, Any] = {}
    if isinstance(document.get("definitions"), dict):
        out["schemas"] = document["definitions"]
    if isinstance(document.get("parameters"), dict):
        out["parameters"] = {
            k: parameter(v) for k, v in document["parameters"].items() if isinstance(v, dict) and v.get("in") != "body"
        }
    if isinstance(document.get("responses"), dict):
        out["responses"] = {k: response(v, produces) for k, v in document["responses"].items() if isinstance(v, dict)}
    if isinstance(document.get("securityDefinitions"), dict):
        out["securitySchemes"] = {
            k: _security_scheme(v) for k, v in document["securityDefinitions"].items() if isinstance(v, dict)
        }
    return rewrite_refs(out)  # type: ignore[no-any-return]


def rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                for old, new in _REFS.items():
                    if value.startswith(old):
                        value = new + value[len(old) :]
                        break
                out[key] = value
            else:
                out[key] = rewrite_refs(value)
        return out
    if isinstance(node, list):
        return [rewrite_refs(item) for item in node]
    return node
