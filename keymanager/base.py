"""The key-manager contract: a credential in, a validated Principal out, or a precise AuthFailure raised.

Key managers are per-worker objects (they live in gateway.types.WorkerResources and outlive config reloads).
`authenticate` may do I/O only when its own cache cannot answer; the auth policy caches the Principal by a
hash of the token, so a cached valid token costs no signature check and no I/O.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class Principal:
    """Who is calling: immutable by convention once returned (it is shared through the token cache)."""

    __slots__ = (
        "key_manager",
        "issuer",
        "subject",
        "application",
        "username",
        "scopes",
        "tenant",
        "expires_at",
        "claims",
        "token_id",
        "assertion",
    )

    def __init__(
        self,
        *,
        key_manager: str,
        issuer: str,
        subject: str,
        application: str | None,
        scopes: frozenset[str],
        tenant: str | None,
        expires_at: float,
        claims: dict[str, Any],
        username: str | None = None,
        token_id: str | None = None,
    ) -> None:
        self.key_manager = key_manager
        self.issuer = issuer
        self.subject = subject
        self.application = application
        self.username = username
        self.scopes = scopes
        self.tenant = tenant
        self.expires_at = expires_at
        self.claims = claims
        self.token_id = token_id
        self.assertion: tuple[float, bytes] | None = None  # backend JWT, cached (expiry, value)

    def __repr__(self) -> str:
        return f"Principal({self.key_manager}:{self.subject}, app={self.application}, scopes={sorted(self.scopes)})"


def parse_scopes(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list | tuple):
        return frozenset(str(item) for item in value)
    return frozenset()


class KeyManager(ABC):
    name: str
    kind: str  # resident | jwt | introspection | apikey
    tenant: str | None = None

    @abstractmethod
    async def authenticate(self, credential: str) -> Principal:
        """Validates the credential; raises keymanager.errors.AuthFailure (or a subclass) when it cannot."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Stops background tasks and closes clients."""
