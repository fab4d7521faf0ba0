"""External JWT key managers: tokens verified against the issuer's JWKS (by URL or OIDC discovery).

Keys are fetched with aiohttp, kept in memory, refreshed on a schedule by a background task and on an
unknown `kid`, with a cooldown between fetches so a stream of made-up kids cannot cause a refetch storm.
A failed refresh never empties the key set: the last good keys stay in use. When a token names a kid no
cached key has and the JWKS could not be fetched, the answer is 503 (nobody can decide); otherwise 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import aiohttp

from gateway.config.keymanagers import ClaimMapping, JwtConfig
from keymanager.base import KeyManager, Principal, parse_scopes
from keymanager.errors import InvalidToken, KeyManagerUnavailable
from keymanager.jose import (
    DEFAULT_MAX_TOKEN_BYTES,
    Jws,
    PublicKey,
    check_claims,
    key_from_jwk,
    parse,
    verify_signature,
)

log = logging.getLogger("splp.keymanager")


def principal_from_claims(
    name: str, claims: dict[str, Any], mapping: ClaimMapping, tenant: str | None, expires_at: float
) -> Principal:
    application = None
    for claim in mapping.client_id:
        value = claims.get(claim)
        if isinstance(value, str) and value:
            application = value
            break
    claimed_tenant = claims.get(mapping.tenant) if mapping.tenant else None
    username = claims.get(mapping.username)
    sub = claims.get("sub")
    jti = claims.get("jti")
    return Principal(
        key_manager=name,
        issuer=str(claims.get("iss", "")),
        subject=str(sub) if sub is not None else (application or ""),
        application=application,
        scopes=parse_scopes(claims.get(mapping.scope)),
        tenant=tenant or (str(claimed_tenant) if claimed_tenant else None),
        expires_at=expires_at,
        claims=claims,
        username=str(username) if isinstance(username, str) else None,
        token_id=jti if isinstance(jti, str) else None,
    )


def keys_from_jwks(document: Any) -> dict[str | None, PublicKey]:
    """kid -> public key bound to its published alg; encryption keys are skipped, entries that do not load
    (or that forbid verifying) are skipped and logged."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no keys list)")
    keys: dict[str | None, PublicKey] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue  # encryption keys (Keycloak publishes one) are not for us
        try:
            key = key_from_jwk(jwk)
        except ValueError as exc:
            log.warning("JWKS entry %r skipped: %s", jwk.get("kid"), exc)
            continue
        kid = jwk.get("kid")
        kid = kid if isinstance(kid, str) else None
        if kid in keys:
            log.warning("JWKS entry %r skipped: the kid is published twice", kid)
            continue
        keys[kid] = key
    return keys


class JwksKeyManager(KeyManager):
    kind = "jwt"

    def __init__(self, config: JwtConfig, max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES) -> None:
        # config-derived
        self.name = config.name
        self.tenant = config.tenant
        self.issuer = config.issuer
        self.config = config
        self._allowed = frozenset(config.algorithms)
        self._audience = frozenset(config.audience)
        self._max = max_token_bytes
        # shared (per worker)
        self.keys: dict[str | None, PublicKey] = {}
        self.fetches = 0  # attempts, for tests and metrics
        self._jwks_url = config.jwks_url
        self._last_attempt = float("-inf")
        self._last_kid_refetch = float("-inf")  # the cooldown counts from refetches caused by unknown kids
        self._last_failed = False
        self._generation = 0
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._static = config.jwks_file is not None
        if config.jwks_file is not None:  # read once at load (startup or reload)
            with open(config.jwks_file, encoding="utf-8") as file:
                self.keys = keys_from_jwks(json.load(file))

    async def authenticate(self, credential: str) -> Principal:
        jws = parse(credential, self._max)
        if jws.alg not in self._allowed:
            raise InvalidToken(f"the algorithm {jws.alg} is not accepted")
        key = await self._key_for(jws)
        verify_signature(jws, key, self._allowed)
        exp = check_claims(jws.claims, issuer=self.issuer, audience=self._audience, leeway=self.config.leeway)
        return principal_from_claims(self.name, jws.claims, self.config.claims, self.tenant, exp + self.config.leeway)

    def _lookup(self, kid: str | None) -> PublicKey | None:
        if kid is None:
            return next(iter(self.keys.values())) if len(self.keys) == 1 else None
        return self.keys.get(kid)

    async def _key_for(self, jws: Jws) -> PublicKey:
        if self._static:
            key = self._lookup(jws.kid)
            if key is None:
                raise InvalidToken(f"no key {jws.kid!r} is in the configured key file")
            return key
        if self._task is None:
            self._task = asyncio.create_task(self._refresh_loop(), name=f"jwks-refresh:{self.name}")
        cooldown = self.config.refetch_cooldown
        if not self.keys:  # first use, or every fetch so far failed: retried at most once per cooldown
            if time.monotonic() - self._last_attempt >= cooldown:
                await self.refresh()
        elif jws.kid not in self.keys and time.monotonic() - self._last_kid_refetch >= cooldown:
            self._last_kid_refetch = time.monotonic()  # the storm guard counts unknown-kid refetches only
            await self.refresh()
        key = self._lookup(jws.kid)
        if key is not None:
            return key
        if self._last_failed:
            raise KeyManagerUnavailable(f"the keys of {self.name} cannot be fetched and no cached key matches")
        if jws.kid is None:
            raise InvalidToken("the token has no kid and the issuer publishes several keys")
        raise InvalidToken(f"no key {jws.kid!r} is published by the issuer")

    async def refresh(self) -> bool:
        """Fetches the JWKS once (single flight); on failure the current keys stay."""
        generation = self._generation
        async with self._lock:
            if generation != self._generation:
                return not self._last_failed  # another waiter fetched while this one queued
            self._generation += 1
            self._last_attempt = time.monotonic()
            self.fetches += 1
            try:
                keys = await self._fetch()
            except Exception as exc:  # noqa: BLE001 - any failure keeps the last good keys
                self._last_failed = True
                log.warning("key manager %s: JWKS refresh failed (%d keys kept): %s", self.name, len(self.keys), exc)
                return False
            self._last_failed = False
            self.keys = keys
            return True

    async def _fetch(self) -> dict[str | None, PublicKey]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.fetch_timeout), raise_for_status=True
            )
        if self._jwks_url is None:
            if self.config.discovery_url is None:  # the config requires one of jwks_url, discovery_url
                raise ValueError("neither jwks_url nor discovery_url is configured")
            async with self._session.get(self.config.discovery_url) as response:
                document = await response.json(content_type=None)
            if not isinstance(document, dict) or document.get("issuer") != self.issuer:
                raise ValueError("the discovery document names another issuer")
            jwks_uri = document.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
                raise ValueError("the discovery document has no jwks_uri")
            self._jwks_url = jwks_uri
        async with self._session.get(self._jwks_url) as response:
            if response.content_length is not None and response.content_length > 1_000_000:
                raise ValueError("JWKS document too large")
            document = await response.json(content_type=None)
        keys = keys_from_jwks(document)
        if not keys:
            raise ValueError("the JWKS holds no usable signature key")
        return keys

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.refresh_interval)
            await self.refresh()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
