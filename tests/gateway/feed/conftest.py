from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.catalog.store import CatalogStore, open_store
from tests.gateway.catalog.backends import pg_module_database, store_uri  # noqa: F401 - fixtures


@pytest.fixture
async def store(store_uri: str) -> AsyncIterator[CatalogStore]:  # noqa: F811
    s = await open_store(store_uri)
    try:
        yield s
    finally:
        await s.close()
