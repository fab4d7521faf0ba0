"""The gateways of this process that follow a catalog, so a control API in the same process (`splp
serve` with one worker, `make run`) can wait after a write until they serve it: the answer to a
publish, a new application or a subscription means the gateway already applies it.

Other processes and nodes (several workers, a cluster) follow the store on their own (watch.py):
within 250 ms for SQLite, about 30 ms for PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol


class Follower(Protocol):
    async def caught_up(self, revision: int) -> None: ...


_FOLLOWERS: dict[str, set[Follower]] = {}  # by catalog store URI


def register(uri: str, follower: Follower) -> None:
    _FOLLOWERS.setdefault(uri, set()).add(follower)


def unregister(uri: str, follower: Follower) -> None:
    _FOLLOWERS.get(uri, set()).discard(follower)


async def settle(uri: str, revision: Callable[[], Awaitable[int]]) -> None:
    """Waits until every gateway of this process following `uri` serves the catalog as of now (the
    caller bounds the wait: a gateway whose store is down catches up later). At once when none follows
    it here."""
    followers = list(_FOLLOWERS.get(uri, ()))
    if followers:
        target = await revision()
        await asyncio.gather(*(f.caught_up(target) for f in followers))
