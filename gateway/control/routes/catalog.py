"""The service directory: served APIs (PUBLISHED, DEPRECATED) a signed-in user may see, and the
anonymous public view (PUBLISHED APIs with visibility public). Entries never show backends or policies."""

from __future__ import annotations

from gateway.catalog.api_models import ApiStatus, CatalogPage
from gateway.catalog.visibility import Viewer
from gateway.control.endpoints import Call, Endpoint, QueryParam
from gateway.control.routes.apis import viewer_of

SERVED = (ApiStatus.PUBLISHED, ApiStatus.DEPRECATED)

QUERY = (
    QueryParam("q", "Text in the name, description or context (case-insensitive)."),
    QueryParam("tag", "Only APIs with this tag."),
    QueryParam("tenant", "Only APIs of this owner tenant (slug or id)."),
    QueryParam("page", "Page number, from 1.", int, 1, None, 1),
    QueryParam("per_page", "Entries per page.", int, 1, 100, 20),
)


async def _page(call: Call, viewer: Viewer | None, statuses: tuple[ApiStatus, ...], public_only: bool) -> CatalogPage:
    page, per_page = call.query["page"], call.query["per_page"]
    items, total = await call.store.apis.search(
        viewer,
        statuses=statuses,
        public_only=public_only,
        q=call.query["q"],
        tag=call.query["tag"],
        tenant=call.query["tenant"],
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    return CatalogPage(items=items, page=page, per_page=per_page, total=total, pages=-(-total // per_page))


async def search_catalog(call: Call) -> CatalogPage:
    return await _page(call, await viewer_of(call), SERVED, public_only=False)


async def public_catalog(call: Call) -> CatalogPage:
    return await _page(call, None, (ApiStatus.PUBLISHED,), public_only=True)


ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/catalog",
        search_catalog,
        "Search the service directory (published and deprecated APIs I may see)",
        "catalog",
        response=CatalogPage,
        query=QUERY,
    ),
    Endpoint(
        "GET",
        "/api/v1/public/catalog",
        public_catalog,
        "Public service directory: published public APIs, no sign-in",
        "catalog",
        public=True,
        response=CatalogPage,
        query=QUERY,
    ),
)
