"""Control-API tokens issued and checked with the resident key manager's signing keys.

When gateway.yaml declares a resident key manager, the control API signs its sign-in tokens with
that key manager's active key (RS256/ES256, `kid` in the header, `typ` at+jwt) and its issuer, so
one key ring, one rotation schedule and one JWKS (`/.well-known/jwks.json` on the gateway) cover
both consumers' and administrators' tokens. The audience `urn:splp:control-api` keeps the two apart:
a consumer's access token is refused by the control API, and an administrator's token carries no
client_id or subscription, so no API accepts it. Claims are those of tokens.LocalTokens.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt

from gateway.config.keymanagers import ResidentConfig
from gateway.control.tokens import AUDIENCE, InvalidToken, TokenClaims, token_claims
from keymanager import keystore

_TYP = "at+jwt"
_ALLOWED = ["RS256", "ES256"]
_RELOAD_COOLDOWN = 5.0  # an unknown kid re-reads the key file at most this often (another node rotated)


class ResidentTokens:
    def __init__(self, config: ResidentConfig, ring: keystore.KeyRing, *, expires_in: int = 900) -> None:
        self._config = config
        self._ring = ring
        self._issuer = config.issuer
        self._leeway = int(config.leeway)
        self._reloaded = time.monotonic()
        self.expires_in = expires_in

    @classmethod
    async def open(cls, config: ResidentConfig, *, expires_in: int = 900) -> ResidentTokens:
        return cls(config, await asyncio.to_thread(keystore.load, config), expires_in=expires_in)

    async def issue(self, *, user_id: str, tenant_id: str, role: str, session_version: int) -> str:
        if time.time() - self._ring.active.created >= self._config.rotate_after:
            await self._reload()  # rotates when due, under the key file's lock
        claims = token_claims(self._issuer, self.expires_in, user_id, tenant_id, role, session_version)
        key = self._ring.active
        return jwt.encode(claims, key.private, algorithm=key.alg, headers={"kid": key.kid, "typ": _TYP})

    async def verify(self, token: str) -> TokenClaims:
        try:
            header = jwt.get_unverified_header(token)
            key = await self._key(header)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public,
                algorithms=[key.alg],  # the key's own algorithm, never the token's say
                audience=AUDIENCE,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["iss", "aud", "sub", "exp", "iat"]},
            )
            return TokenClaims(str(claims["sub"]), str(claims["tid"]), int(claims["ver"]), int(claims["exp"]))
        except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
            raise InvalidToken(str(exc)) from None

    async def _key(self, header: dict[str, Any]) -> keystore.SigningKey:
        if header.get("typ") != _TYP or header.get("alg") not in _ALLOWED:
            raise InvalidToken("not a control-API access token")
        kid = header.get("kid")
        key = self._ring.keys.get(kid) if isinstance(kid, str) else None
        if key is None and time.monotonic() - self._reloaded >= _RELOAD_COOLDOWN:
            await self._reload()
            key = self._ring.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("unknown signing key")
        return key

    async def _reload(self) -> None:
        self._reloaded = time.monotonic()
        self._ring = await asyncio.to_thread(keystore.load, self._config)
