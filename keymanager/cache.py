"""The validated-token cache: sha256(token) -> Principal, until the principal's expiry.

One per worker (in WorkerResources), shared by every API and snapshot. Only successes are cached. Bounded: when full,
expired entries go first, then the oldest half (dicts keep insertion order). The raw token is never stored.
"""

from __future__ import annotations

import hashlib
import time

from keymanager.base import Principal


def token_key(token: str | bytes, kind: bytes = b"b") -> bytes:
    data = token.encode("latin-1") if isinstance(token, str) else token
    return kind + hashlib.sha256(data).digest()


class TokenCache:
    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: dict[bytes, Principal] = {}
        self._max = max_entries

    def get(self, key: bytes, now: float) -> Principal | None:
        principal = self._entries.get(key)
        if principal is not None and principal.expires_at <= now:
            self._entries.pop(key, None)
            return None
        return principal

    def put(self, key: bytes, principal: Principal) -> None:
        entries = self._entries
        if len(entries) >= self._max:
            now = time.time()
            for stale in [k for k, p in entries.items() if p.expires_at <= now]:
                del entries[stale]
            if len(entries) >= self._max:
                for old in list(entries)[: len(entries) // 2]:
                    del entries[old]
        entries[key] = principal

    def discard(self, key: bytes) -> None:
        self._entries.pop(key, None)

    def discard_token_id(self, key_manager: str, token_id: str) -> None:
        """Rare path (a revocation heard from another node that only knows the jti): a scan."""
        for key in [k for k, p in self._entries.items() if p.token_id == token_id and p.key_manager == key_manager]:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
