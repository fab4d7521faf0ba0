"""Strict JWS compact parsing and verification (RFC 7515/7519, with the RFC 8725 rules).

Parsing is ours because the common libraries are lenient where an attacker profits: duplicate JSON members
(json.loads keeps the last one), non-base64url bytes, unbounded sizes. Signatures are checked with PyJWT's
algorithm implementations, with the algorithm taken from the key manager's allow-list and the key's type
checked against it (no HS/RS confusion). A key published with `alg` verifies that algorithm only, and a key
whose `use` or `key_ops` does not allow verifying signatures is never loaded (RFC 7517 4.2-4.4, RFC 8725
3.1): an RSA key published for RS256 cannot verify a PS256 token, nor the reverse. Header members that point
at keys (jku, x5u, jwk, x5c) are ignored: keys only ever come from the key manager's configured source.
Unknown `crit` extensions are refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt import PyJWK
from jwt.algorithms import get_default_algorithms
from jwt.exceptions import PyJWTError

from keymanager.errors import InvalidToken, TokenExpired

_ALGORITHMS = get_default_algorithms()
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_KID = re.compile(r"^[\x21-\x7e]{1,256}$")  # printable ASCII, no spaces: never a path, URL or query
_CURVES = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}
DEFAULT_MAX_TOKEN_BYTES = 8192


class Jws:
    __slots__ = ("header", "claims", "signing_input", "signature")

    def __init__(self, header: dict[str, Any], claims: dict[str, Any], signing_input: bytes, signature: bytes):
        self.header = header
        self.claims = claims
        self.signing_input = signing_input
        self.signature = signature

    @property
    def alg(self) -> str:
        return str(self.header.get("alg"))

    @property
    def kid(self) -> str | None:
        return self.header.get("kid")


def _b64decode(segment: str, what: str) -> bytes:
    if not _B64URL.match(segment) or len(segment) % 4 == 1:
        raise InvalidToken(f"the token {what} is not base64url")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken(f"the token {what} is not base64url") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidToken(f"the token repeats the member {key!r}")
        result[key] = value
    return result


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data, object_pairs_hook=_no_duplicates)
    except (ValueError, UnicodeDecodeError):
        raise InvalidToken(f"the token {what} is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"the token {what} is not a JSON object")
    return value


def parse(token: str, max_bytes: int = DEFAULT_MAX_TOKEN_BYTES) -> Jws:
    """Splits and decodes a compact JWS without trusting any of it yet."""
    if len(token) > max_bytes:
        raise InvalidToken(f"the token is longer than {max_bytes} bytes")
    parts = token.split(".")
    if len(parts) != 3:
        shape = "truncated" if len(parts) < 3 else "not a compact JWT"
        raise InvalidToken(f"the token is {shape} (expected three dot-separated parts)")
    header_b64, payload_b64, signature_b64 = parts
    if not header_b64 or not payload_b64:
        raise InvalidToken("the token is truncated")
    header = _json_object(_b64decode(header_b64, "header"), "header")
    claims = _json_object(_b64decode(payload_b64, "payload"), "payload")
    signature = _b64decode(signature_b64, "signature")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none" or not alg:
        raise InvalidToken("unsigned tokens (alg none) are refused")
    if not signature:
        raise InvalidToken("the token has no signature")
    if "crit" in header:
        raise InvalidToken("the token header has critical extensions this gateway does not understand")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not _KID.match(kid)):
        raise InvalidToken("the token kid is not a plain identifier")
    return Jws(header, claims, f"{header_b64}.{payload_b64}".encode("ascii"), signature)


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A verification key and the one algorithm it is bound to (None: any the key manager accepts and the
    key's type fits)."""

    key: Any
    alg: str | None = None


def key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """The public key of one JWK, bound to its `alg`; symmetric (oct) keys and keys whose `use` or
    `key_ops` exclude signature verification are refused (ValueError)."""
    if jwk.get("kty") not in ("RSA", "EC", "OKP"):
        raise ValueError(f"unsupported key type {jwk.get('kty')!r}")
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise ValueError(f"the key is published for use {use!r}, not signatures")
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise ValueError(f"the key's key_ops {ops!r} do not include verify")
    alg = jwk.get("alg")
    if alg is not None and (not isinstance(alg, str) or alg not in _ALGORITHMS or alg.startswith("HS")):
        raise ValueError(f"the key is published for {alg!r}, not a signature algorithm")
    public = {k: v for k, v in jwk.items() if k not in ("d", "p", "q", "dp", "dq", "qi", "key_ops", "use")}
    try:
        key = PyJWK(public).key
    except PyJWTError as exc:
        raise ValueError(str(exc)) from exc
    if alg is not None and not key_fits(alg, key):
        raise ValueError(f"the key cannot verify its own algorithm {alg}")
    return PublicKey(key, alg)


def key_fits(alg: str, key: Any) -> bool:
    if alg[:2] in ("RS", "PS"):
        return isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048
    if alg in _CURVES:
        return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, _CURVES[alg])
    if alg == "EdDSA":
        return isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
    return False


def verify_signature(jws: Jws, published: PublicKey, allowed: Collection[str]) -> None:
    alg = jws.alg
    if alg not in allowed:
        raise InvalidToken(f"the algorithm {alg} is not accepted")
    if published.alg is not None and published.alg != alg:
        raise InvalidToken(f"the key {jws.kid} is published for {published.alg}, not {alg}")
    key = published.key
    if not key_fits(alg, key):
        raise InvalidToken(f"the key {jws.kid} cannot verify {alg}")
    try:
        ok = _ALGORITHMS[alg].verify(jws.signing_input, key, jws.signature)
    except Exception:  # noqa: BLE001 - any failure inside the primitive means "not verified"
        ok = False
    if not ok:
        raise InvalidToken("the token signature does not verify")


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"the claim {name} is not a number")
    return float(value)


def check_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str | None,
    audience: Collection[str],
    leeway: float,
    now: float | None = None,
) -> float:
    """exp (required), nbf, iat, iss, aud; returns exp."""
    now = time.time() if now is None else now
    exp = _number(claims, "exp")
    if exp is None:
        raise InvalidToken("the token has no exp claim")
    if now >= exp + leeway:
        raise TokenExpired("the token has expired")
    nbf = _number(claims, "nbf")
    if nbf is not None and now + leeway < nbf:
        raise InvalidToken("the token is not valid yet (nbf)")
    iat = _number(claims, "iat")
    if iat is not None and now + leeway < iat:
        raise InvalidToken("the token was issued in the future (iat)")
    if issuer is not None and claims.get("iss") != issuer:
        raise InvalidToken("the token issuer is not accepted")
    if audience and not audience_matches(claims.get("aud"), audience):
        raise InvalidToken("the token is not meant for this audience")
    return exp


def audience_matches(aud: Any, accepted: Collection[str]) -> bool:
    """Whether an `aud` value (a string or a list of strings, RFC 7519 4.1.3) names an accepted audience."""
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    return any(isinstance(value, str) and value in accepted for value in values)
