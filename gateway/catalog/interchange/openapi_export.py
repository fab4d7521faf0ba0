"""Any catalog API -> an OpenAPI 3.1 document for its consumers.

`servers` is the gateway (its public URL + the API's context and version), never the backend. Paths
come from the API's resources as they are now. When the API was imported from OpenAPI or Swagger,
each operation the import found and the API still serves is given back as written (summary,
parameters, request body, responses, tags) under its original path, with the document's components;
Swagger 2.0 parts are converted, and 3.0 schema keywords (`nullable`, boolean
`exclusiveMinimum`) take their 3.1 form. Operation- and
path-level `servers` are dropped: they name backends.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from gateway.catalog.api_models import Api
from gateway.catalog.interchange import swagger2
from gateway.catalog.interchange.openapi_import import METHODS, convert_path
from gateway.catalog.interchange.tree import load_tree

ANY_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PATH_ITEM_KEYS = ("summary", "description")


def _template(path: str) -> str:
    """A resource path as an OpenAPI path: a final `*` becomes a `{rest}` parameter."""
    if path.endswith("/*"):
        return path[:-1] + "{rest}"
    return path


def _generated(method: str, resource_path: str, path: str) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in _PARAM.findall(path)
    ]
    operation: dict[str, Any] = {
        "summary": f"{method.upper()} {resource_path}",
        "responses": {"default": {"description": "The backend's response"}},
    }
    if parameters:
        operation["parameters"] = parameters
    return operation


def _to_31(node: Any) -> Any:
    """Schema keywords of OpenAPI 3.0 / Swagger 2.0 in their 3.1 (JSON Schema) form: `nullable: true`
    -> `type: [t, "null"]`, boolean `exclusiveMinimum`/`exclusiveMaximum` -> the bound itself."""
    if isinstance(node, dict):
        out = {key: _to_31(value) for key, value in node.items()}
        if isinstance(out.get("nullable"), bool):
            flag = out.pop("nullable")
            if flag and isinstance(out.get("type"), str):
                out["type"] = [out["type"], "null"]
        for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if isinstance(out.get(exclusive), bool):
                flag = out.pop(exclusive)
                if flag and bound in out:
                    out[exclusive] = out.pop(bound)
        return out
    if isinstance(node, list):
        return [_to_31(item) for item in node]
    return node


def _originals(document: dict[str, Any], fmt: str) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(resource path, method) -> (original path, operation in 3.1 shape)."""
    found: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict) or not path.startswith("/"):
            continue
        declared = item.get("parameters")
        shared: list[Any] = declared if isinstance(declared, list) else []
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            if fmt == "swagger":
                operation = swagger2.operation(operation, document, shared)
            else:
                operation = {k: copy.deepcopy(v) for k, v in operation.items() if k != "servers"}
                operation["parameters"] = swagger2.merge_parameters(shared, operation.get("parameters"))
                if not operation["parameters"]:
                    del operation["parameters"]
            for key in _PATH_ITEM_KEYS:
                if key in item and key not in operation:
                    operation[key] = item[key]
            found.setdefault((convert_path(path), method), (path, _to_31(operation)))
    return found


def export_openapi(api: Api, prefix: str, fmt: str | None = None, source: str | None = None) -> dict[str, Any]:
    """The API's OpenAPI 3.1 document; `prefix` is the gateway URL + context + version, `fmt`/`source`
    the stored definition the API was imported from (openapi or swagger), if any."""
    original = load_tree(source) if source is not None and fmt in ("openapi", "swagger") else None
    originals = _originals(original, fmt or "") if original is not None else {}
    info: dict[str, Any] = {"title": api.name, "version": api.version}
    if api.description:
        info["description"] = api.description
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": info,
        "servers": [{"url": prefix.rstrip("/")}],
        "paths": {},
    }
    for resource in api.resources:
        methods, _, path = resource.partition(" ")
        wanted = [m.lower() for m in methods.split(",")]
        if "any" in wanted:
            wanted = list(ANY_METHODS)
        for method in wanted:
            hit = originals.get((path, method))
            if hit is not None:
                document["paths"].setdefault(hit[0], {})[method] = hit[1]
            else:
                openapi_path = _template(path)
                operation = _generated(method, path, openapi_path)
                document["paths"].setdefault(openapi_path, {}).setdefault(method, operation)
    if original is not None:
        if fmt == "swagger":
            parts = swagger2.components(original)
        else:
            parts = original.get("components") or {}
        if parts:
            document["components"] = _to_31(parts)
        for key in ("tags", "externalDocs", "security"):
            if key in original:
                document[key] = original[key]
        contact, license_ = (original.get("info") or {}).get("contact"), (original.get("info") or {}).get("license")
        if contact:
            info["contact"] = contact
        if license_:
            info["license"] = license_
    elif api.tags:
        document["tags"] = [{"name": tag} for tag in api.tags]
    document["x-splp"] = {"api_id": api.id, "tenant": api.tenant, "status": api.status.value}
    return document
