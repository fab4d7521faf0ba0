"""The part of the catalog a gateway node serves, read in one go and compared as a whole.

A view is plain frozen data: two reads that see the same catalog compare equal, so a change that
does not touch what gateways serve (a password, a draft API) never rebuilds a snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.catalog.export import consumer_configs, served_apis, tier_overrides
from gateway.catalog.store import CatalogStore
from gateway.config.consumers import ApplicationConfig, SubscriptionConfig
from gateway.config.model import ApiConfig
from gateway.config.tiers import TierOverride


@dataclass(frozen=True, slots=True)
class CatalogView:
    apis: tuple[tuple[str, ApiConfig], ...] = ()  # (catalog id, definition), by context then version
    applications: tuple[ApplicationConfig, ...] = ()  # ACTIVE and BLOCKED, with credential hashes
    subscriptions: tuple[SubscriptionConfig, ...] = ()
    tiers: tuple[TierOverride, ...] = ()  # set through the control API, over conf/ tiers


async def load_view(store: CatalogStore) -> CatalogView:
    applications, subscriptions = await consumer_configs(store)
    return CatalogView(
        apis=tuple(await served_apis(store)),
        applications=tuple(applications),
        subscriptions=tuple(subscriptions),
        tiers=tuple(await tier_overrides(store)),
    )
