"""Per-worker key managers built from the config, reused across reloads while their config is unchanged.

`KeyManagers` lives in gateway.types.WorkerResources (key SERVICE_KEY). For each GatewayConfig it hands out a
`KeyManagerSet`: the key managers by name and by issuer, the declared applications, the token cache and the
revocation path. A key manager whose config changed is replaced (its JWKS/keys refetched) and the token cache
is cleared, so no principal validated under an old config survives a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.config.consumers import ApplicationConfig
from keymanager.apikey import ApiKeyManager
from keymanager.base import KeyManager
from keymanager.cache import TokenCache
from keymanager.introspection import IntrospectionKeyManager
from keymanager.jwks import JwksKeyManager
from keymanager.resident import ResidentKeyManager
from keymanager.revocation import RevocationBus

if TYPE_CHECKING:
    from gateway.config.model import GatewayConfig
    from gateway.types import WorkerResources

SERVICE_KEY = "keymanager.registry"
log = logging.getLogger("splp.keymanager")


@dataclass(frozen=True, slots=True)
class KeyManagerSet:
    by_name: dict[str, KeyManager]
    by_issuer: dict[str, KeyManager]
    applications: dict[str, ApplicationConfig]
    subscribed: dict[str, tuple[str, ...]]  # application id -> prefixes of the APIs it may call (active)
    resident: ResidentKeyManager | None
    registry: KeyManagers


class KeyManagers:
    def __init__(self) -> None:
        self.cache = TokenCache()
        self._instances: dict[str, tuple[str, KeyManager]] = {}
        self._last: tuple[object, KeyManagerSet] | None = None
        self._retired: list[KeyManager] = []
        self._closing: set[asyncio.Task[None]] = set()  # strong references: the loop keeps only weak ones
        self.bus: RevocationBus | None = None

    def for_config(self, gateway: GatewayConfig) -> KeyManagerSet:
        last = self._last
        if last is not None and last[0] is gateway:
            return last[1]
        instances: dict[str, tuple[str, KeyManager]] = {}
        changed = False
        applications = {app.id: app for app in gateway.applications}
        for config in gateway.key_managers:
            identity = config.model_dump_json()
            old = self._instances.get(config.name)
            if old is not None and old[0] == identity and config.type != "apikey":
                instances[config.name] = old
                continue
            if config.type == "resident":
                km: KeyManager = ResidentKeyManager(config)
            elif config.type == "jwt":
                km = JwksKeyManager(config)
            elif config.type == "introspection":
                km = IntrospectionKeyManager(config)
            else:
                km = ApiKeyManager(config, gateway.applications)
            instances[config.name] = (identity, km)
            changed = changed or config.type != "apikey" or old is None
        for name, (_, km) in self._instances.items():
            if instances.get(name, (None, None))[1] is not km:
                self._retired.append(km)
                changed = True
        if changed or last is None or last[1].applications != applications:
            self.cache.clear()
        self._instances = instances
        by_name = {name: km for name, (_, km) in instances.items()}
        by_issuer: dict[str, KeyManager] = {
            km.issuer: km for km in by_name.values() if isinstance(km, ResidentKeyManager | JwksKeyManager)
        }
        resident = next((km for km in by_name.values() if isinstance(km, ResidentKeyManager)), None)
        subscribed: dict[str, list[str]] = {}
        for subscription in gateway.subscriptions:
            if subscription.status == "active":
                subscribed.setdefault(subscription.application, []).append(subscription.api)
        audiences = {app_id: tuple(sorted(set(apis))) for app_id, apis in subscribed.items()}
        result = KeyManagerSet(by_name, by_issuer, applications, audiences, resident, self)
        if self.bus is None and gateway.storage.counters.startswith(("redis://", "rediss://")):
            self.bus = RevocationBus(gateway.storage.counters, self._apply_remote)
        self._last = (gateway, result)
        self._close_retired()
        return result

    def _close_retired(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # closed at the next chance, or at shutdown
        retired, self._retired = self._retired, []
        for km in retired:
            task = loop.create_task(km.aclose())
            self._closing.add(task)
            task.add_done_callback(self._closed)

    def _closed(self, task: asyncio.Task[None]) -> None:
        self._closing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("closing a replaced key manager failed: %r", task.exception())

    # -- revocation -----------------------------------------------------------------------------------------------

    def revoke(self, key_manager: str, token_id: str, until: float, cache_key: bytes | None) -> None:
        """Local effect now; other workers and nodes through the bus (when storage.counters is Redis)."""
        self._apply(key_manager, token_id, until, cache_key)
        if self.bus is not None:
            self.bus.publish(key_manager, token_id, until)

    def _apply(self, key_manager: str, token_id: str, until: float, cache_key: bytes | None) -> None:
        entry = self._instances.get(key_manager)
        if entry is not None and isinstance(entry[1], ResidentKeyManager):
            entry[1].revoke(token_id, until)
        if cache_key is not None:
            self.cache.discard(cache_key)
        else:
            self.cache.discard_token_id(key_manager, token_id)

    def _apply_remote(self, key_manager: str, token_id: str, until: float) -> None:
        self._apply(key_manager, token_id, until, None)

    def start(self) -> None:
        """Starts background work that needs the running loop (the revocation subscriber)."""
        if self.bus is not None:
            self.bus.start()

    async def aclose(self) -> None:
        if self.bus is not None:
            await self.bus.aclose()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        for km in [*self._retired, *(km for _, km in self._instances.values())]:
            with contextlib.suppress(Exception):
                await km.aclose()
        self._instances.clear()
        self._retired.clear()


def key_managers(services: WorkerResources) -> KeyManagers:
    return services.get(SERVICE_KEY, KeyManagers)  # type: ignore[no-any-return]
