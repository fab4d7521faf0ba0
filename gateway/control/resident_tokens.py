"""Control-API tokens issued and checked with the resident key manager's signing keys.

When gateway.yaml declares a resident key manager, the control API signs its sign-in tokens with
that key manager's active key (RS256/ES256, `kid` in the header, `typ` at+jwt) and its issuer, so
one key ring, one rotation schedule and one JWKS (`/oauth2/jwks` on the gateway) cover
both consumers' and administrators' tokens. The audience `urn:splp:control-api` keeps the two apart:
a consumer's access token is refused by the control API, and an administrator's token carries no
client_id or subscription, so no API accepts it. Claims are those of tokens.LocalTokens; the key
ring (loading, rotation, unknown-kid reloads) is the key manager's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import jwt

from gateway.config.keymanagers import ResidentConfig
from gateway.control.tokens import AUDIENCE, InvalidToken, TokenClaims, token_claims
from keymanager.resident import ResidentKeyManager

_TYP = "at+jwt"


class ResidentTokens:
    def __init__(self, manager: ResidentKeyManager, *, expires_in: int = 900) -> None:
        self._manager = manager
        self._issuer = manager.issuer
        self._leeway = int(manager.config.leeway)
        self.expires_in = expires_in

    @classmethod
    async def open(cls, config: ResidentConfig, *, expires_in: int = 900) -> ResidentTokens:
        manager = await asyncio.to_thread(ResidentKeyManager, config)  # reads (or makes) the key file
        return cls(manager, expires_in=expires_in)

    async def issue(self, *, user_id: str, tenant_id: str, role: str, session_version: int) -> str:
        claims = token_claims(self._issuer, self.expires_in, user_id, tenant_id, role, session_version)
        key = await self._manager.signing_key()
        return jwt.encode(claims, key.private, algorithm=key.alg, headers={"kid": key.kid, "typ": _TYP})

    async def verify(self, token: str) -> TokenClaims:
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            if header.get("typ") != _TYP or not isinstance(kid, str):
                raise InvalidToken("not a control-API access token")
            published = await self._manager.public_key(kid)
            algorithm = published.alg if published is not None else None
            if published is None or algorithm is None or header.get("alg") != algorithm:
                raise InvalidToken("unknown signing key")
            claims: dict[str, Any] = jwt.decode(
                token,
                published.key,
                algorithms=[algorithm],  # the key's own algorithm, never the token's say
                audience=AUDIENCE,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["iss", "aud", "sub", "exp", "iat"]},
            )
            return TokenClaims(str(claims["sub"]), str(claims["tid"]), int(claims["ver"]), int(claims["exp"]))
        except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
            raise InvalidToken(str(exc)) from None
