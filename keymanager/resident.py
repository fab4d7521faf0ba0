"""The resident key manager: the gateway's own OAuth2 server (token logic; HTTP endpoints in resident_http.py).

Access tokens are JWTs (RFC 9068, header typ "at+jwt") signed with the key ring's active key (RS256 or ES256).
Their `aud` is the configured `audience` (checked here), plus, with `subscribed_audience`, the prefixes of the
APIs the application is subscribed to when the token is issued (checked per API by the auth policy).
Refresh tokens are JWTs too (typ "rt+jwt"), so any worker or node holding the key file can redeem them; each
use rotates the refresh token and revokes the old one. Revocation is by `jti` until the token's expiry.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import jwt

from gateway.config.consumers import ApplicationConfig
from gateway.config.keymanagers import ResidentConfig, UserConfig
from keymanager import keystore
from keymanager.base import KeyManager, Principal, parse_scopes
from keymanager.errors import AuthFailure, InvalidToken, TokenInactive
from keymanager.jose import DEFAULT_MAX_TOKEN_BYTES, Jws, PublicKey, check_claims, parse, verify_signature

ACCESS_TYP = "at+jwt"
REFRESH_TYP = "rt+jwt"
_ALLOWED = frozenset({"RS256", "ES256"})
_RELOAD_COOLDOWN = 5.0


def _published(ring: keystore.KeyRing) -> dict[str, PublicKey]:
    return {kid: PublicKey(key.public, key.alg) for kid, key in ring.keys.items()}


class ResidentKeyManager(KeyManager):
    kind = "resident"

    def __init__(self, config: ResidentConfig, max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES) -> None:
        self.name = config.name
        self.issuer = config.issuer
        self.config = config
        self.users: dict[str, UserConfig] = {user.username: user for user in config.users}
        self._audience = frozenset({config.audience})
        self._max = max_token_bytes
        self.ring = keystore.load(config)  # startup: blocking file I/O is fine here
        self._public = _published(self.ring)
        self._last_reload = time.monotonic()
        self.revoked: dict[str, float] = {}  # jti -> until

    # -- keys -------------------------------------------------------------------------------------------------

    def _install(self, ring: keystore.KeyRing) -> None:
        self.ring = ring
        self._public = _published(ring)

    async def reload_keys(self, *, force_rotate: bool = False) -> None:
        """Re-reads the key file (another worker may have rotated), rotating when due."""
        self._last_reload = time.monotonic()
        ring = await asyncio.to_thread(keystore.load, self.config, force_rotate=force_rotate)
        self._install(ring)

    async def _maybe_rotate(self) -> None:
        if time.time() - self.ring.active.created >= self.config.rotate_after:
            await self.reload_keys()

    async def signing_key(self) -> keystore.SigningKey:
        """The active key, rotated first when due (also signs the control API's tokens)."""
        await self._maybe_rotate()
        return self.ring.active

    async def public_key(self, kid: str) -> PublicKey | None:
        """The public key published as `kid` (bound to its algorithm), or None. An unknown kid re-reads the
        key file (at most every few seconds): another worker or node may have rotated."""
        key = self._public.get(kid)
        if key is None and time.monotonic() - self._last_reload >= _RELOAD_COOLDOWN:
            await self.reload_keys()
            key = self._public.get(kid)
        return key

    def jwks(self) -> dict[str, Any]:
        return self.ring.jwks()

    # -- validation ---------------------------------------------------------------------------------------------

    def _verify(self, token: str, typ: str) -> Jws:
        jws = parse(token, self._max)
        if jws.header.get("typ") != typ:
            raise InvalidToken("the token is not an access token" if typ == ACCESS_TYP else "not a refresh token")
        return jws

    async def _checked(self, token: str, typ: str) -> tuple[Jws, float]:
        jws = self._verify(token, typ)
        if jws.alg not in _ALLOWED:
            raise InvalidToken(f"the algorithm {jws.alg} is not accepted")
        key = await self.public_key(jws.kid) if jws.kid else None
        if key is None:
            raise InvalidToken(f"no key {jws.kid!r} is published by the issuer" if jws.kid else "the token has no kid")
        verify_signature(jws, key, _ALLOWED)
        audience = self._audience if typ == ACCESS_TYP else frozenset({self.issuer})
        exp = check_claims(jws.claims, issuer=self.issuer, audience=audience, leeway=self.config.leeway)
        jti = jws.claims.get("jti")
        if not isinstance(jti, str):
            raise InvalidToken("the token has no jti")
        if jti in self.revoked:
            raise TokenInactive("the token has been revoked")
        return jws, exp

    async def authenticate(self, credential: str) -> Principal:
        jws, exp = await self._checked(credential, ACCESS_TYP)
        claims = jws.claims
        return Principal(
            key_manager=self.name,
            issuer=self.issuer,
            subject=str(claims.get("sub", "")),
            application=claims.get("client_id"),
            scopes=parse_scopes(claims.get("scope")),
            tenant=claims.get("tenant"),
            expires_at=exp + self.config.leeway,
            claims=claims,
            username=claims.get("username"),
            token_id=claims["jti"],
        )

    async def refresh_claims(self, token: str) -> dict[str, Any]:
        jws, _ = await self._checked(token, REFRESH_TYP)
        return jws.claims

    async def any_token(self, token: str) -> tuple[str, dict[str, Any]] | None:
        """(typ, claims) of a valid access or refresh token of this issuer, else None (introspection, revocation)."""
        try:
            header = parse(token, self._max).header
            typ = header.get("typ")
            if typ not in (ACCESS_TYP, REFRESH_TYP):
                return None
            jws, _ = await self._checked(token, typ)
        except AuthFailure:  # invalid, expired or revoked
            return None
        return typ, jws.claims

    def revoke(self, jti: str, until: float) -> None:
        now = time.time()
        if len(self.revoked) > 10_000:
            self.revoked = {j: u for j, u in self.revoked.items() if u > now}
        self.revoked[jti] = until

    # -- issuing ------------------------------------------------------------------------------------------------

    def _sign(self, claims: dict[str, Any], typ: str) -> str:
        key = self.ring.active
        return jwt.encode(claims, key.private, algorithm=key.alg, headers={"kid": key.kid, "typ": typ})

    async def issue(
        self,
        app: ApplicationConfig,
        scopes: frozenset[str],
        user: UserConfig | None,
        *,
        with_refresh: bool,
        audience: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Signs an access token (and a refresh token). Its `aud` (RFC 9068 2.2) is the configured audience,
        followed by `audience` (the prefixes of the APIs the application is subscribed to) when
        `subscribed_audience` is on."""
        await self._maybe_rotate()
        now = int(time.time())
        scope = " ".join(sorted(scopes))
        subject = user.username if user else app.id
        tenant = user.tenant if user else app.tenant
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": [self.config.audience, *audience] if self.config.subscribed_audience else self.config.audience,
            "sub": subject,
            "client_id": app.id,
            "azp": app.id,
            "scope": scope,
            "tenant": tenant,
            "iat": now,
            "nbf": now,
            "exp": now + int(self.config.access_token_ttl),
            "jti": secrets.token_urlsafe(16),
        }
        if user:
            claims["username"] = user.username
        answer: dict[str, Any] = {
            "access_token": self._sign(claims, ACCESS_TYP),
            "token_type": "Bearer",
            "expires_in": int(self.config.access_token_ttl),
            "scope": scope,
        }
        if with_refresh:
            refresh = {
                "iss": self.issuer,
                "aud": self.issuer,
                "sub": subject,
                "client_id": app.id,
                "scope": scope,
                "iat": now,
                "exp": now + int(self.config.refresh_token_ttl),
                "jti": secrets.token_urlsafe(16),
            }
            if user:
                refresh["username"] = user.username
            answer["refresh_token"] = self._sign(refresh, REFRESH_TYP)
        return answer
