"""OpenAPI 3.0 / 3.1 and Swagger 2.0 documents -> `Imported`.

- name, description, version suggestion: `info`; tags: the document's and the operations' tags.
- backend: the first absolute http(s) URL of `servers` (variables take their defaults), or Swagger's
  `schemes` (https first) + `host` + `basePath`. Other servers are usually other environments
  (staging, production), not replicas, so they are not load-balanced.
- resources: one per path, its methods; `{param}` segments keep their name (odd characters become
  `_`), a segment mixing text and parameters (`{name}.{ext}`) becomes one parameter segment.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import quote

from gateway.catalog.interchange import names
from gateway.catalog.interchange.limits import MAX_OPERATIONS, MAX_PATHS
from gateway.catalog.interchange.model import Imported, Problems, pointer, refuse

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_WHOLE_PARAM = re.compile(r"^\{([^{}]+)\}$")
_PARAM = re.compile(r"\{([^{}]*)\}")
_NOT_NAME = re.compile(r"[^A-Za-z0-9_]+")
_VARIABLE = re.compile(r"\{([^{}]+)\}")
_LITERAL_SAFE = "._~!$&'()*+,;=:@-"


def spec_of(document: dict[str, Any]) -> tuple[Literal["openapi", "swagger"], str] | None:
    """("openapi", "3.1.0") or ("swagger", "2.0"), or None when the document is neither."""
    openapi, swagger = document.get("openapi"), document.get("swagger")
    if isinstance(openapi, str) and re.match(r"^3\.[01]\.\d+", openapi):
        return "openapi", openapi
    if str(swagger) == "2.0":
        return "swagger", "2.0"
    return None


def _name(raw: str, taken: set[str]) -> str:
    name = _NOT_NAME.sub("_", raw).strip("_") or "param"
    if not (name[0].isalpha() or name[0] == "_"):
        name = "p_" + name
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}_{n}", n + 1
    taken.add(unique)
    return unique


def convert_path(path: str) -> str:
    """An OpenAPI path template in the gateway's resource syntax."""
    if path in ("", "/"):
        return "/"
    taken: set[str] = set()
    out = []
    for segment in path.split("/")[1:]:
        whole = _WHOLE_PARAM.match(segment)
        if whole:
            out.append("{" + _name(whole.group(1), taken) + "}")
        elif "{" in segment:
            out.append("{" + _name("_".join(_PARAM.findall(segment)), taken) + "}")
        else:
            out.append(quote(segment, safe=_LITERAL_SAFE + "%"))
    return "/" + "/".join(out)


def _server_url(server: Any) -> str | None:
    if not isinstance(server, dict) or not isinstance(server.get("url"), str):
        return None
    declared = server.get("variables")
    variables: dict[str, Any] = declared if isinstance(declared, dict) else {}

    def default(match: re.Match[str]) -> str:
        variable = variables.get(match.group(1))
        value = variable.get("default") if isinstance(variable, dict) else None
        return str(value) if value is not None else match.group(0)

    url = _VARIABLE.sub(default, server["url"])
    return None if "{" in url else names.backend_url(url)


def _backend(document: dict[str, Any], fmt: str) -> str | None:
    if fmt == "openapi":
        servers = document.get("servers")
        for server in servers if isinstance(servers, list) else []:
            url = _server_url(server)
            if url:
                return url
        return None
    host = document.get("host")
    if not isinstance(host, str) or not host:
        return None
    schemes = [s for s in document.get("schemes") or [] if s in ("https", "http")] or ["https"]
    scheme = "https" if "https" in schemes else schemes[0]
    declared = document.get("basePath")
    base = declared if isinstance(declared, str) else ""
    return names.backend_url(f"{scheme}://{host}{base if base.startswith('/') else ''}")


def import_openapi(document: dict[str, Any], source: str) -> Imported:
    problems = Problems()
    spec = spec_of(document)
    if spec is None:
        raise refuse("/openapi", 'expected `openapi: 3.0.x` or `3.1.x`, or `swagger: "2.0"`')
    fmt, spec_version = spec
    info = document.get("info")
    title = info.get("title") if isinstance(info, dict) else None
    if not isinstance(title, str) or not title.strip():
        problems.add("/info/title", "missing: the API needs a name")
    paths = document.get("paths")
    if not isinstance(paths, dict) or not paths:
        problems.add("/paths", "no paths: an API without operations cannot be served")
        paths = {}
    elif len(paths) > MAX_PATHS:
        problems.add("/paths", f"{len(paths)} paths; at most {MAX_PATHS}")
    resources: dict[str, list[str]] = {}
    operations: list[dict[str, Any]] = []
    all_tags: list[object] = [t.get("name") for t in document.get("tags") or [] if isinstance(t, dict)]
    for path, item in paths.items():
        if not path.startswith("/"):
            problems.add(pointer("paths", path), "a path must start with /")
            continue
        if not isinstance(item, dict):
            problems.add(pointer("paths", path), "expected a path item object")
            continue
        converted = convert_path(path)
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if not isinstance(operation, dict):
                problems.add(pointer("paths", path, method), "expected an operation object")
                continue
            methods = resources.setdefault(converted, [])
            if method.upper() not in methods:
                methods.append(method.upper())
            operations.append(
                {
                    "method": method.upper(),
                    "path": converted,
                    "source_path": path,
                    "operation_id": operation.get("operationId"),
                    "summary": operation.get("summary"),
                }
            )
            all_tags.extend(operation.get("tags") or [])
    if paths and not operations and not problems.items:
        problems.add("/paths", "no operations (get, put, post, delete, options, head, patch, trace)")
    if len(operations) > MAX_OPERATIONS:
        problems.add("/paths", f"{len(operations)} operations; at most {MAX_OPERATIONS}")
    problems.raise_any()
    if not isinstance(info, dict) or not isinstance(title, str):  # added to `problems` above, raised there
        raise refuse("/info/title", "expected a non-empty string")
    description = info.get("description")
    return Imported(
        format=fmt,
        spec_version=spec_version,
        name=title.strip()[:200],
        version=names.version(info.get("version")),
        slug=names.slug(title),
        description=description.strip()[:4000] if isinstance(description, str) else "",
        tags=names.tags(all_tags),
        backend_url=_backend(document, fmt),
        resources=tuple(f"{','.join(methods)} {path}" for path, methods in resources.items()),
        operations=tuple(operations),
        source=source,
    )
