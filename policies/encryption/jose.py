"""Compact JWE (RFC 7516) through joserfc, with the header checked first so every refusal is precise.

Decryption accepts only the configured key-management algorithms with A256GCM, refuses `zip` (a
compressed payload can expand without bound: the size limit would no longer hold), and tells a token
made for another key from one whose ciphertext or tag was altered.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from joserfc import jwe
from joserfc.errors import DecodeError, JoseError
from joserfc.jwk import ECKey, RSAKey

from gateway.config.tls import DEFAULT_MASTER_KEY_FILE
from gateway.errors import Problem
from gateway.sealing import SEALED_PREFIX, MasterKey
from policies.encryption import errors

Key = RSAKey | ECKey
CONTENT_ENCRYPTION = "A256GCM"
_KEY_FAILURES = ("Decryption failed", "Unwrap AES key failed")  # joserfc's words when the key does not fit


class JweRefusal(Exception):
    def __init__(self, problem: Problem, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem
        self.detail = detail


def load_key(value: str, *, owner: str) -> Key:
    """A PEM key file, a PEM given inline (a public key registered in the catalog), or a PEM sealed with the
    master key for `owner`; RSA or EC."""
    if value.lstrip().startswith("-----BEGIN"):
        pem = value.encode()
    elif value.startswith(SEALED_PREFIX):
        pem = MasterKey.load(DEFAULT_MASTER_KEY_FILE).unseal(value, owner=owner)
    else:
        with open(value, "rb") as file:
            pem = file.read()
    try:
        return RSAKey.import_key(pem)
    except (JoseError, ValueError, TypeError):
        return ECKey.import_key(pem)


def algorithm_for(key: Key) -> str:
    return "RSA-OAEP-256" if isinstance(key, RSAKey) else "ECDH-ES+A256KW"


def _b64json(segment: bytes) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)))


class Decryptor:
    def __init__(self, key: Key, algorithms: tuple[str, ...]) -> None:
        self._key = key
        self._kid = key.thumbprint()
        self._key_alg = algorithm_for(key)
        self._algorithms = frozenset(algorithms)
        self._allowed = [*algorithms, CONTENT_ENCRYPTION]

    def decrypt(self, token: bytes) -> tuple[bytes, dict[str, Any]]:
        token = token.strip()
        parts = token.split(b".")
        if len(parts) != 5:
            raise JweRefusal(errors.JWE_MALFORMED, "the body is not a compact JWE (five base64url parts)")
        try:
            header = _b64json(parts[0])
        except (ValueError, binascii.Error):
            raise JweRefusal(errors.JWE_MALFORMED, "the JWE protected header is not base64url JSON") from None
        if not isinstance(header, dict):
            raise JweRefusal(errors.JWE_MALFORMED, "the JWE protected header is not a JSON object")
        alg, enc = header.get("alg"), header.get("enc")
        if "zip" in header:
            raise JweRefusal(errors.JWE_COMPRESSED, f"the JWE header asks for zip={header['zip']!r}; not accepted")
        if alg not in self._algorithms or enc != CONTENT_ENCRYPTION:
            accepted = ", ".join(sorted(self._algorithms))
            raise JweRefusal(
                errors.JWE_UNSUPPORTED, f"alg={alg!r} enc={enc!r}; accepted: alg {accepted} with enc A256GCM"
            )
        if alg != self._key_alg:
            raise JweRefusal(errors.JWE_WRONG_KEY, f"the JWE is encrypted to another key (this API's kid: {self._kid})")
        try:
            return jwe.decrypt_compact(token, self._key, algorithms=self._allowed).plaintext or b"", header
        except DecodeError as exc:
            if exc.description in _KEY_FAILURES:
                raise JweRefusal(errors.JWE_WRONG_KEY, "the content key does not unwrap with this API's key") from None
            raise JweRefusal(errors.JWE_TAMPERED, "the JWE ciphertext or tag was altered") from None
        except JoseError as exc:
            raise JweRefusal(errors.JWE_MALFORMED, f"the JWE cannot be read: {exc.error}") from None


class Encryptor:
    """Encrypts to one recipient key; its header fields (kid = RFC 7638 thumbprint) are computed once."""

    def __init__(self, key: Key) -> None:
        self._key = key
        alg = algorithm_for(key)
        self._header: dict[str, Any] = {"alg": alg, "enc": CONTENT_ENCRYPTION, "kid": key.thumbprint()}
        self._algorithms = [alg, CONTENT_ENCRYPTION]

    def encrypt(self, plaintext: bytes, content_type: str | None) -> bytes:
        header = {**self._header, "cty": content_type} if content_type else dict(self._header)
        return jwe.encrypt_compact(header, plaintext, self._key, algorithms=self._algorithms).encode()
