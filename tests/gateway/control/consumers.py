"""Helpers for the consumer tests over the seeded control API (see conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from gateway.catalog.store import CatalogStore, open_store
from tests.gateway.control.conftest import Control
from tests.gateway.control.test_apis import act, create


async def new_app(control: Control, user: str, name: str = "Aplikasi", **extra: Any) -> dict[str, Any]:
    status, app = await control.call("POST", "/applications", as_user=user, json={"name": name, **extra})
    assert status == 201, app
    return app  # type: ignore[no-any-return]


async def published_api(control: Control, context: str = "/bappenas/pegawai", **extra: Any) -> dict[str, Any]:
    """A PUBLISHED public API of bappenas (tenant a)."""
    api = await create(control, "a_pub", context=context, visibility="public", **extra)
    status, api = await act(control, "a_pub", api["id"], "publish")
    assert status == 200, api
    return api


@asynccontextmanager
async def catalog(uri: str) -> AsyncIterator[CatalogStore]:
    """The control API's own catalog, opened beside it, to check what it stored."""
    store = await open_store(uri)
    try:
        yield store
    finally:
        await store.close()
