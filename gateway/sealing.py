"""Secrets at rest: one master key seals what the catalog must keep but never show in plain text.

Backend client keys, JWE private keys and ETL connection credentials are stored sealed: AES-256-GCM
under the master key, with the owner's identity as associated data, so a sealed value copied to another
row (or another kind of object) fails to open. The master key comes from the environment
(``SPLP_MASTER_KEY``, 32 bytes as base64url) or from a key file (``SPLP_MASTER_KEY_FILE``, else the
caller's default path); a missing key file is created once with mode 0600, as the resident key
manager's passphrase file is. Losing the key loses the sealed values: back it up with the catalog.

Blocking file I/O: load the key at startup or through asyncio.to_thread.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["MasterKey", "SealingError", "SEALED_PREFIX"]

SEALED_PREFIX = "sealed:v1:"
_KEY_BYTES = 32
_NONCE_BYTES = 12


class SealingError(Exception):
    """A master key that cannot be read, or a sealed value that does not open with it."""


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class MasterKey:
    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise SealingError(f"the master key must be {_KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)

    @classmethod
    def load(cls, default_file: str | Path) -> MasterKey:
        """From SPLP_MASTER_KEY, else SPLP_MASTER_KEY_FILE, else `default_file` (created if missing)."""
        value = os.environ.get("SPLP_MASTER_KEY")
        if value:
            return cls(_decode_key(value, "SPLP_MASTER_KEY"))
        path = Path(os.environ.get("SPLP_MASTER_KEY_FILE") or default_file)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(_b64encode(secrets.token_bytes(_KEY_BYTES)) + "\n")
        return cls(_decode_key(path.read_text().strip(), str(path)))

    def seal(self, plaintext: bytes, *, owner: str) -> str:
        """Encrypt `plaintext` for the object named `owner` (e.g. "etl-connection:42")."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return SEALED_PREFIX + _b64encode(nonce + self._aead.encrypt(nonce, plaintext, owner.encode()))

    def unseal(self, sealed: str, *, owner: str) -> bytes:
        if not sealed.startswith(SEALED_PREFIX):
            raise SealingError(f"{owner}: not a sealed value")
        try:
            blob = _b64decode(sealed[len(SEALED_PREFIX) :])
            return self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], owner.encode())
        except (InvalidTag, ValueError, binascii.Error) as exc:
            raise SealingError(f"{owner}: sealed value does not open with this master key") from exc


def _decode_key(text: str, source: str) -> bytes:
    try:
        key = _b64decode(text)
    except (ValueError, binascii.Error) as exc:
        raise SealingError(f"{source}: the master key must be base64url") from exc
    if len(key) != _KEY_BYTES:
        raise SealingError(f"{source}: the master key must be {_KEY_BYTES} bytes (base64url), got {len(key)}")
    return key
