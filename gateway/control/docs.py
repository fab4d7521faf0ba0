"""The control API's documentation page: Swagger UI over /api/v1/openapi.json, from static files that ship
inside the swagger-ui-py package (Swagger UI 5, which reads OpenAPI 3.1): nothing is loaded from a CDN,
so the page works on a closed admin network."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

DOCS_PATH = "/api/v1/docs"
_ASSETS = DOCS_PATH + "/assets"

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>SPLP control API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-ui-standalone-preset.js"></script>
<script>
window.onload = function () {{
  window.ui = SwaggerUIBundle({{
    url: "{document}",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  }});
}};
</script>
</body>
</html>
"""


def assets_dir() -> Path:
    """swagger-ui-py's static folder, found without importing the package (its framework handlers)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        raise RuntimeError("the swagger-ui-py package is not installed (see pyproject.toml)")
    return Path(spec.origin).parent / "static"


def docs_routes(document_path: str) -> list[BaseRoute]:
    """GET /api/v1/docs (the page) and its assets under /api/v1/docs/assets/."""
    page = _PAGE.format(assets=_ASSETS, document=document_path).encode()

    async def docs(request: Request) -> Response:
        return HTMLResponse(page)

    return [
        Route(DOCS_PATH, docs, methods=["GET"], name="docs"),
        Mount(_ASSETS, app=StaticFiles(directory=assets_dir()), name="docs-assets"),
    ]
