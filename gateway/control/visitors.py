"""Who is active: each signed-in request marks its user, for the dashboard's "Active Visitor" figure.

A user is written at most once per `every` seconds per process, so a busy user costs one UPDATE a
minute, not one per request. The dashboard counts who was seen within its window (catalog/dashboard.py).
"""

from __future__ import annotations

import time

from gateway.catalog.store import CatalogStore
from gateway.catalog.util import now

_MAX_TRACKED = 100_000  # past this the memo is cleared: at worst some users are written again


class VisitorTracker:
    def __init__(self, every: float = 60.0) -> None:
        self._every = every
        self._written: dict[str, float] = {}

    async def seen(self, store: CatalogStore, user_id: str) -> None:
        moment = time.monotonic()
        last = self._written.get(user_id)
        if last is not None and moment - last < self._every:
            return
        if len(self._written) >= _MAX_TRACKED:
            self._written.clear()
        self._written[user_id] = moment
        await store.users.touch(user_id, now())
