"""API keys: the applications' keys are declared as sha256 hashes; a presented key is hashed and looked up.

API keys are long random strings (`python -m keymanager.hashing new-apikey`), so a fast hash is the right
tool: the lookup is by hash, and the raw key is never held. The principal is the application itself.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable

from gateway.config.consumers import ApplicationConfig
from gateway.config.keymanagers import ApiKeyConfig
from keymanager.base import KeyManager, Principal
from keymanager.errors import InvalidToken

PRINCIPAL_TTL = 300.0  # the cache is also cleared when the config changes


class ApiKeyManager(KeyManager):
    kind = "apikey"

    def __init__(self, config: ApiKeyConfig, applications: Iterable[ApplicationConfig]) -> None:
        self.name = config.name
        self.config = config
        self.header = config.header.lower().encode("latin-1") if config.header else None
        self.query = config.query.encode("latin-1") if config.query else None
        self._by_hash: dict[str, ApplicationConfig] = {}
        for app in applications:
            for stored in app.api_keys:
                self._by_hash[stored.removeprefix("sha256:").lower()] = app

    async def authenticate(self, credential: str) -> Principal:
        if not credential or len(credential) > 512:
            raise InvalidToken("the API key is not valid")
        app = self._by_hash.get(hashlib.sha256(credential.encode("latin-1")).hexdigest())
        if app is None:
            raise InvalidToken("the API key is not valid")
        return Principal(
            key_manager=self.name,
            issuer=self.name,
            subject=app.id,
            application=app.id,
            scopes=frozenset(app.scopes),
            tenant=app.tenant,
            expires_at=time.time() + PRINCIPAL_TTL,
            claims={},
        )
