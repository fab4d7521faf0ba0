"""The part of the catalog a gateway node serves, read in one go and compared as a whole.

A view is plain frozen data: two reads that see the same catalog compare equal, so a change that
does not touch what gateways serve (a password, a draft API) never rebuilds a snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.catalog.export import served_apis
from gateway.catalog.store import CatalogStore
from gateway.config.model import ApiConfig


@dataclass(frozen=True, slots=True)
class CatalogView:
    apis: tuple[tuple[str, ApiConfig], ...] = ()  # (catalog id, definition), by context then version


async def load_view(store: CatalogStore) -> CatalogView:
    return CatalogView(apis=tuple(await served_apis(store)))
