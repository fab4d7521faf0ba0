"""The catalog as the gateway sees it: served APIs as `gateway.config.model.ApiConfig` objects.

The catalog feed (gateway/feed/) reads these after each committed change and hands them to the
snapshot builder, exactly as conf/ files would be.
"""

from __future__ import annotations

from gateway.catalog.apis import to_config
from gateway.catalog.store import CatalogStore
from gateway.config.model import ApiConfig


async def published_api_configs(store: CatalogStore, group: str | None = None) -> list[ApiConfig]:
    """PUBLISHED and DEPRECATED APIs (BLOCKED, CREATED and RETIRED ones are not served), ordered by
    context then version; with `group`, only the APIs deployed to that gateway group."""
    return [config for _, config in await served_apis(store) if group is None or group in config.groups]


async def served_apis(store: CatalogStore) -> list[tuple[str, ApiConfig]]:
    """(catalog id, definition) of every served API, from one read."""
    return [(api.id, to_config(api)) for api in await store.apis.served()]
