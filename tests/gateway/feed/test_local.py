"""In one process the control API waits for the gateway: after a committed change, `local.settle` returns
once every feed of this process serves it, waking a poller at once instead of at its next tick."""

from __future__ import annotations

import asyncio

from gateway.catalog.store import CatalogStore
from gateway.feed import local
from gateway.feed.view import CatalogView
from gateway.feed.watch import CatalogFeed
from tests.gateway.feed.test_live_push import publish


async def test_settle_waits_until_the_feed_serves_the_change(store: CatalogStore, store_uri: str) -> None:
    views: list[CatalogView] = []
    feed = CatalogFeed(store_uri, views.append, poll=30.0)  # its own next look would be 30 s away
    await feed.start()
    try:
        assert feed.revision == await store.audit.newest_id()
        await publish(store, "http://127.0.0.1:9")
        async with asyncio.timeout(5):
            await local.settle(store_uri, store.audit.newest_id)
        assert [api.context for _, api in views[-1].apis] == ["/pegawai"]
        assert feed.revision == await store.audit.newest_id()
        async with asyncio.timeout(1):  # nothing new: one read, no wait
            await local.settle(store_uri, store.audit.newest_id)
    finally:
        await feed.aclose()
    await publish(store, "http://127.0.0.1:9", name="other")
    async with asyncio.timeout(1):  # nobody follows the store in this process any more
        await local.settle(store_uri, store.audit.newest_id)
