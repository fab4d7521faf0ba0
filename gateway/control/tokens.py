"""The control API's own short-lived access tokens, behind `TokenVerifier` so the resident key manager
(keymanager/) can take over issuing and checking them without touching the routes.

Tokens are EdDSA (Ed25519) JWTs, 15 minutes by default, with claims:
  iss urn:splp:control, aud urn:splp:control-api, sub <user id>, tid <tenant id>, role, ver <session
  version: bumped by a password change or deactivation, so older tokens die>, iat, exp, jti.
The role in the token is informative: each request re-reads the user, so a demotion is immediate.

The signing key is generated on first start into `key_path` (PKCS#8 PEM, mode 0600, never committed:
var/ is ignored) and loaded on later starts, so tokens survive a restart and several control-API
processes sharing the file accept each other's tokens.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ISSUER = "urn:splp:control"
AUDIENCE = "urn:splp:control-api"
ALGORITHM = "EdDSA"


class InvalidToken(Exception):
    """Bad signature, expired, wrong issuer/audience, malformed, or missing claims."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    tenant_id: str
    session_version: int
    expires_at: int


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> TokenClaims:
        """The token's claims, or InvalidToken."""
        ...


class TokenIssuer(Protocol):
    expires_in: int

    async def issue(self, *, user_id: str, tenant_id: str, role: str, session_version: int) -> str: ...


def token_claims(
    issuer: str, expires_in: int, user_id: str, tenant_id: str, role: str, session_version: int
) -> dict[str, Any]:
    """The claims of a control-API access token, whoever signs it."""
    now = int(time.time())
    return {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": user_id,
        "tid": tenant_id,
        "role": role,
        "ver": session_version,
        "iat": now,
        "exp": now + expires_in,
        "jti": uuid.uuid4().hex,
    }


class LocalTokens:
    """Issues and verifies the control API's tokens with one Ed25519 key."""

    def __init__(self, key: Ed25519PrivateKey, *, expires_in: int = 900, leeway: int = 30) -> None:
        self._key = key
        self._public: Ed25519PublicKey = key.public_key()
        self.expires_in = expires_in
        self._leeway = leeway

    @classmethod
    def from_file(cls, key_path: str | Path, **options: int) -> LocalTokens:
        """Loads the key, or creates it (0600) when the file does not exist. Blocking: call at startup."""
        return cls(load_or_create_key(Path(key_path)), **options)

    async def issue(self, *, user_id: str, tenant_id: str, role: str, session_version: int) -> str:
        claims = token_claims(ISSUER, self.expires_in, user_id, tenant_id, role, session_version)
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    async def verify(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self._public,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=self._leeway,
                options={"require": ["iss", "aud", "sub", "exp", "iat"]},
            )
            return TokenClaims(str(claims["sub"]), str(claims["tid"]), int(claims["ver"]), int(claims["exp"]))
        except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
            raise InvalidToken(str(exc)) from None


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        # written aside, then linked into place: a concurrent starter never reads a half-written file
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            os.link(temporary, path)
        except FileExistsError:  # another process made it first: use theirs
            return load_or_create_key(path)
        finally:
            temporary.unlink(missing_ok=True)
        return key
    loaded = serialization.load_pem_private_key(data, password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return loaded
