"""The catalog as the gateway sees it: served APIs as `gateway.config.model.ApiConfig` objects.

The live push to gateway nodes (a later slice) calls `published_api_configs` after each committed
change and hands the result to the snapshot builder, exactly as conf/ files would be.
"""

from __future__ import annotations

from gateway.catalog.apis import to_config
from gateway.catalog.store import CatalogStore
from gateway.config.model import ApiConfig


async def published_api_configs(store: CatalogStore, group: str | None = None) -> list[ApiConfig]:
    """PUBLISHED and DEPRECATED APIs (BLOCKED, CREATED and RETIRED ones are not served), ordered by
    context then version; with `group`, only the APIs deployed to that gateway group."""
    return [to_config(api) for api in await store.apis.served() if group is None or group in api.groups]
