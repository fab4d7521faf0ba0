"""The catalog as the gateway sees it: served APIs as `gateway.config.model.ApiConfig` objects, and tiers.

The live push to gateway nodes (a later slice) calls `published_api_configs` after each committed
change and hands the result to the snapshot builder, exactly as conf/ files would be.
"""

from __future__ import annotations

from gateway.catalog.apis import to_config
from gateway.catalog.store import CatalogStore
from gateway.config.model import ApiConfig
from gateway.config.tiers import Tier, TiersConfig


async def published_api_configs(store: CatalogStore, group: str | None = None) -> list[ApiConfig]:
    """PUBLISHED and DEPRECATED APIs (BLOCKED, CREATED and RETIRED ones are not served), ordered by
    context then version; with `group`, only the APIs deployed to that gateway group."""
    return [to_config(api) for api in await store.apis.served() if group is None or group in api.groups]


async def catalog_tiers(store: CatalogStore, conf: TiersConfig | None = None) -> TiersConfig | None:
    """The throttling tiers the gateway should use, or None when the store holds none (conf/ tiers apply).

    Otherwise the store's tiers are merged over `conf` (the gateway's conf/ tiers; the built-in defaults
    when not given): a tier of the same kind and name is replaced, new ones are added, others kept.
    """
    records = await store.tiers.list()
    if not records:
        return None
    base = conf if conf is not None else TiersConfig()
    merged = {"subscription": dict(base.subscription), "application": dict(base.application)}
    for record in records:
        merged[record.kind.value][record.name] = Tier(
            requests=record.requests, burst=record.burst, description=record.description
        )
    return TiersConfig(**merged)
