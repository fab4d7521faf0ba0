"""The monitoring dashboard page: GET /dashboard (HTML) and its files under /dashboard/static/, shipped in
the package (Chart.js included: no CDN). The page itself holds no data: it signs in against
/api/v1/auth/token and reads /api/v1/dashboard/stats and /api/v1/analytics/* with the token, so every
figure it shows passes the same role and tenant checks as the API."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
# The page runs only its own files; nothing inline, nothing from elsewhere; it may not be framed.
_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


DASHBOARD_PATH = "/dashboard"
# Its entry in the control API's OpenAPI document (the static files under it are not operations).
DASHBOARD_ITEM = {
    "get": {
        "operationId": "dashboard",
        "summary": "The monitoring dashboard page (sign in on the page with a control-API account)",
        "tags": ["dashboard"],
        "security": [],
        "responses": {"200": {"description": "OK", "content": {"text/html": {"schema": {"type": "string"}}}}},
    }
}


async def dashboard(request: Request) -> Response:
    return FileResponse(STATIC / "dashboard.html", media_type="text/html; charset=utf-8", headers=_HEADERS)


def dashboard_routes() -> list[BaseRoute]:
    return [
        Route(DASHBOARD_PATH, dashboard, methods=["GET"], name="dashboard"),
        Mount("/dashboard/static", app=StaticFiles(directory=STATIC), name="dashboard-static"),
    ]
