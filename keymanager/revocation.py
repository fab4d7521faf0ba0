"""Revocations across workers and nodes: Redis pub/sub on the counters store (storage.counters: redis://...).

Each worker subscribes to one channel; a revocation is published as JSON {km, jti, until}. A subscriber that
loses its connection reconnects with backoff; revocations published while it was away are lost for that
worker's cache, so the window is bounded by the cached token's remaining life (document: keep access tokens
short). With storage.counters memory:// there is no bus: a revocation takes effect in the worker that served
the revocation request only (single-worker deployments are fully covered).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("splp.keymanager")
CHANNEL = "splp:revocations"


class RevocationBus:
    def __init__(self, url: str, apply: Callable[[str, str, float], None]) -> None:
        self.url = url
        self._apply = apply
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._client: Any = None
        self._listener: Any = None
        self.ready = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._listen(), name="revocation-subscriber")

    def publish(self, key_manager: str, token_id: str, until: float) -> None:
        message = json.dumps({"km": key_manager, "jti": token_id, "until": until})
        task = asyncio.get_running_loop().create_task(self._publish(message))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self, message: str) -> None:
        import coredis

        try:
            if self._client is None:
                self._client = coredis.Redis.from_url(self.url, decode_responses=True)
            await self._client.publish(CHANNEL, message)
        except Exception as exc:  # noqa: BLE001 - logged; the local revocation already applied
            log.warning("revocation not published to %s: %s", CHANNEL, exc)

    async def _listen(self) -> None:
        import coredis

        delay = 0.5
        while True:
            try:
                client = self._listener = coredis.Redis.from_url(self.url, decode_responses=True)
                async with client.pubsub(channels=[CHANNEL], ignore_subscribe_messages=True) as pubsub:
                    self.ready.set()
                    delay = 0.5
                    async for message in pubsub:
                        self._handle(message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect
                self.ready.clear()
                log.warning("revocation subscriber: %s; reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _handle(self, data: object) -> None:
        try:
            event = json.loads(data) if isinstance(data, str | bytes) else None
            self._apply(str(event["km"]), str(event["jti"]), float(event["until"]))  # type: ignore[index]
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("revocation message ignored: %s", exc)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for task in list(self._pending):
            with contextlib.suppress(Exception):
                await task
        for client in (self._client, self._listener):
            if client is not None:
                client.connection_pool.disconnect()
        self._client = self._listener = None
