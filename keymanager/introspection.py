"""Opaque tokens through RFC 7662 introspection, one endpoint (and client credentials) per key manager.

Active answers become Principals that the auth policy caches until min(exp, now + cache_ttl) (the positive
cache); the `iss`, `exp` and `aud` of an active answer are checked as a JWT key manager checks them. Refusals
(inactive, or active for another audience) are remembered here for negative_ttl (the negative cache,
bounded). An unreachable or failing endpoint is fail-closed: 503, since no cached answer could decide.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import aiohttp

from gateway.config.keymanagers import IntrospectionConfig
from keymanager.base import KeyManager, Principal
from keymanager.errors import AuthFailure, InvalidToken, KeyManagerUnavailable, TokenExpired, TokenInactive
from keymanager.jose import audience_matches
from keymanager.jwks import principal_from_claims

_NEGATIVE_MAX = 10_000


class IntrospectionKeyManager(KeyManager):
    kind = "introspection"

    def __init__(self, config: IntrospectionConfig) -> None:
        self.name = config.name
        self.tenant = config.tenant
        self.config = config
        self._auth = aiohttp.encode_basic_auth(config.client_id, config.client_secret)
        self._audience = frozenset(config.audience)
        self._negative: dict[bytes, tuple[float, type[AuthFailure], str]] = {}
        self._session: aiohttp.ClientSession | None = None
        self.calls = 0

    async def authenticate(self, credential: str) -> Principal:
        if len(credential) > 4096:
            raise InvalidToken("the token is longer than 4096 bytes")
        key = hashlib.sha256(credential.encode("latin-1")).digest()
        now = time.time()
        remembered = self._negative.get(key)
        if remembered is not None:
            if remembered[0] > now:
                raise remembered[1](remembered[2])  # a fresh exception: a re-raised one would grow its traceback
            del self._negative[key]
        answer = await self._introspect(credential)
        if answer.get("active") is not True:
            raise self._remember(key, now, TokenInactive("the token is not active"))
        if self._audience and not audience_matches(answer.get("aud"), self._audience):
            raise self._remember(key, now, InvalidToken("the token is not meant for this audience"))
        exp = answer.get("exp")
        if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int | float)):
            raise InvalidToken("the introspection answer has a non-numeric exp")
        if exp is not None and exp <= now:
            raise TokenExpired("the token has expired")
        if self.config.issuer is not None and answer.get("iss", self.config.issuer) != self.config.issuer:
            raise InvalidToken("the token issuer is not accepted")
        expires_at = now + self.config.cache_ttl
        if exp is not None:
            expires_at = min(expires_at, float(exp))
        return principal_from_claims(self.name, answer, self.config.claims, self.tenant, expires_at)

    def _remember(self, key: bytes, now: float, failure: AuthFailure) -> AuthFailure:
        if self.config.negative_ttl > 0:
            if len(self._negative) >= _NEGATIVE_MAX:
                self._negative.clear()
            self._negative[key] = (now + self.config.negative_ttl, type(failure), failure.description)
        return failure

    async def _introspect(self, token: str) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout))
        self.calls += 1
        try:
            async with self._session.post(
                self.config.url,
                data={"token": token, "token_type_hint": "access_token"},
                headers={"accept": "application/json", "authorization": self._auth},
            ) as response:
                if response.status != 200:
                    raise KeyManagerUnavailable(f"the introspection endpoint of {self.name} answered {response.status}")
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise KeyManagerUnavailable(f"the introspection endpoint of {self.name} is unreachable") from exc
        if not isinstance(answer, dict):
            raise KeyManagerUnavailable(f"the introspection endpoint of {self.name} sent no JSON object")
        return answer

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
