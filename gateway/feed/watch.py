"""Follows the catalog store and hands every changed view to the gateway.

How a change is noticed:
- PostgreSQL (clusters): every catalog write records an audit row, and the audit writer sends
  `NOTIFY splp_catalog` in the same transaction, so the notification arrives when (and only if) the
  change commits. One dedicated connection per worker LISTENs; the view is re-read on each
  notification (changes close together coalesce into one read).
- SQLite (embedded): no notifications between processes, so the feed polls the newest audit id
  every 250 ms; one indexed read, nothing when idle changes. A control API in the same process
  wakes it after each write and waits until the new view serves (local.py).
A full re-read also runs every `resync` seconds and after any reconnect, so a missed notification or
a node that was down converges; a view equal to the last one changes nothing.
The store being down never stops the data plane: the last good view keeps serving and /_ready
reports the problem until the feed reconnects. With a `cache` path, each new view is also saved
there, and a node that starts while the store is down serves the saved view (cache.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg

from gateway.catalog.audit import NOTIFY_CHANNEL
from gateway.catalog.store import CatalogStore, open_store
from gateway.feed import local
from gateway.feed.cache import load_cached_view, save_view
from gateway.feed.view import CatalogView, load_view

log = logging.getLogger("splp.feed")

OnView = Callable[[CatalogView], None]


class CatalogFeed:
    def __init__(
        self,
        uri: str,
        on_view: OnView,
        *,
        cache: Path | None = None,
        poll: float = 0.25,
        resync: float = 30.0,
        retry: float = 1.0,
    ) -> None:
        self._uri = uri
        self._cache = cache
        self._on_view = on_view
        self._poll = poll
        self._resync = resync
        self._retry = retry
        self._store: CatalogStore | None = None
        self._last: CatalogView | None = None
        self._task: asyncio.Task[None] | None = None
        self._problem: str | None = "not connected yet"
        self._synced = asyncio.Event()
        self._attempted = asyncio.Event()  # the first connection attempt has succeeded or failed
        self.synced_at = 0.0
        self.revision = -1  # the newest audit id the served view includes
        self._advanced = asyncio.Event()  # set (and replaced) each time `revision` moves
        self._wake = asyncio.Event()  # someone waits: poll now rather than at the next tick

    async def start(self, wait: float = 5.0) -> None:
        """Starts following; waits up to `wait` seconds for the first view (a node resyncs on start), less
        when the store refuses at once."""
        self._task = asyncio.create_task(self._run(), name="splp-catalog-feed")
        local.register(self._uri, self)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._attempted.wait()), wait)
        if self._synced.is_set():
            return
        cached = await asyncio.to_thread(load_cached_view, self._cache) if self._cache else None
        if cached is None:
            log.error("catalog store %s unreachable at start (%s); serving conf/ only", self._safe_uri, self._problem)
            return
        view, saved_at = cached
        log.error(
            "catalog store %s unreachable at start (%s); serving the view cached at %s",
            self._safe_uri,
            self._problem,
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(saved_at)),
        )
        if self._last is None:  # the feed may have connected meanwhile: its view is newer
            self._on_view(view)
            self._last = view

    async def check_ready(self) -> str | None:
        return self._problem

    async def caught_up(self, revision: int) -> None:
        """Returns once the served view includes audit id `revision` (a committed change)."""
        while self.revision < revision:
            self._wake.set()
            await self._advanced.wait()

    async def aclose(self) -> None:
        local.unregister(self._uri, self)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close_store()

    @property
    def _safe_uri(self) -> str:
        return self._uri.split("@")[-1]  # no credentials in logs

    async def _run(self) -> None:
        while True:
            try:
                if self._store is None:
                    self._store = await open_store(self._uri)
                if self._store.dialect == "postgres":
                    await self._follow_notifications(self._store)
                else:
                    await self._follow_polling(self._store)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any store failure: report, back off, reconnect
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if problem != self._problem:
                    log.warning("catalog feed: %s; keeping the last view, retrying every %.0fs", problem, self._retry)
                self._problem = problem
                self._attempted.set()
                await self._close_store()
                await asyncio.sleep(self._retry)

    async def _sync(self, store: CatalogStore, revision: int) -> None:
        """Reads the view; `revision` was read before it, so the view holds at least that change."""
        view = await load_view(store)
        self._problem = None
        self.synced_at = time.time()
        if view != self._last:
            self._on_view(view)
            self._last = view
            if self._cache is not None:
                try:
                    await asyncio.to_thread(save_view, self._cache, view, self.synced_at)
                except OSError as exc:
                    log.warning("catalog cache %s not written: %s", self._cache, exc)
        self._synced.set()
        self._attempted.set()
        if revision > self.revision:
            self.revision = revision
            self._advanced.set()
            self._advanced = asyncio.Event()

    async def _follow_notifications(self, store: CatalogStore) -> None:
        changed = asyncio.Event()
        conn = await asyncpg.connect(self._uri)
        try:
            await conn.add_listener(NOTIFY_CHANNEL, lambda *_: changed.set())
            await self._sync(store, await store.audit.newest_id())  # after LISTEN: nothing committed is missed
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), self._resync)
                if conn.is_closed():
                    raise ConnectionError("the LISTEN connection closed")
                changed.clear()
                await self._sync(store, await store.audit.newest_id())
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2.0)

    async def _follow_polling(self, store: CatalogStore) -> None:
        last_revision = await store.audit.newest_id()
        await self._sync(store, last_revision)
        next_resync = time.monotonic() + self._resync
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            self._wake.clear()
            revision = await store.audit.newest_id()
            if revision != last_revision or time.monotonic() >= next_resync:
                last_revision = revision
                next_resync = time.monotonic() + self._resync
                await self._sync(store, revision)

    async def _close_store(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            with contextlib.suppress(Exception):
                await store.close()
