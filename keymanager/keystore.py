"""The resident key manager's signing keys: made with cryptography, kept encrypted at rest, rotated with overlap.

The key file (JSON, mode 0600) holds every key still published: kid, alg, created, retired (or null) and
the private key as PKCS#8 PEM encrypted with the passphrase (BestAvailableEncryption). The passphrase comes
from an environment variable, else from a random file next to the key file created with mode 0600.
A key older than `rotate_after` is retired and a new one made; a retired key stays in the JWKS (and still
verifies) for `overlap`, then is dropped. Several workers share the file under an flock. Blocking file I/O:
call `load` at startup or through asyncio.to_thread.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from gateway.config.keymanagers import ResidentConfig


class KeyStoreError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    alg: str
    created: float
    retired: float | None
    private: Any

    @property
    def public(self) -> Any:
        return self.private.public_key()

    def jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.alg.startswith("RS") else ECAlgorithm
        jwk: dict[str, Any] = algorithm.to_jwk(self.public, as_dict=True)
        jwk.update(kid=self.kid, alg=self.alg, use="sig")
        return jwk


@dataclass(frozen=True, slots=True)
class KeyRing:
    active: SigningKey
    keys: dict[str, SigningKey]  # every published key by kid, active included

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk() for key in self.keys.values()]}


def _passphrase(config: ResidentConfig) -> bytes:
    value = os.environ.get(config.passphrase_env)
    if value:
        return value.encode()
    path = Path(config.key_file + ".pass")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            raise KeyStoreError(f"{path} is readable by group or others; chmod 600 it") from None
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as file:
        secret = secrets.token_urlsafe(32).encode()
        file.write(secret)
    return secret


def _new_key(alg: str, now: float) -> SigningKey:
    private = rsa.generate_private_key(65537, 2048) if alg == "RS256" else ec.generate_private_key(ec.SECP256R1())
    return SigningKey(kid=secrets.token_hex(8), alg=alg, created=now, retired=None, private=private)


def _read(path: Path, passphrase: bytes) -> list[SigningKey]:
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    keys = []
    for item in data.get("keys", []):
        try:
            private = serialization.load_pem_private_key(item["private"].encode(), password=passphrase)
        except (ValueError, TypeError) as exc:
            raise KeyStoreError(f"{path}: key {item.get('kid')} cannot be decrypted (wrong passphrase?)") from exc
        keys.append(SigningKey(item["kid"], item["alg"], item["created"], item.get("retired"), private))
    return keys


def _write(path: Path, keys: list[SigningKey], passphrase: bytes) -> None:
    encryption = serialization.BestAvailableEncryption(passphrase)
    data = {
        "version": 1,
        "keys": [
            {
                "kid": key.kid,
                "alg": key.alg,
                "created": key.created,
                "retired": key.retired,
                "private": key.private.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
                ).decode(),
            }
            for key in keys
        ],
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(data, file)
    os.replace(tmp, path)


def load(config: ResidentConfig, now: float | None = None, *, force_rotate: bool = False) -> KeyRing:
    """Reads the key file, rotating and pruning as due, creating it on first use."""
    now = time.time() if now is None else now
    path = Path(config.key_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    passphrase = _passphrase(config)
    with open(str(path) + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        keys = _read(path, passphrase)
        changed = False
        kept = [k for k in keys if k.retired is None or now - k.retired < config.overlap]
        changed |= len(kept) != len(keys)
        active = [k for k in kept if k.retired is None]
        current = active[-1] if active else None
        due = current is None or current.alg != config.algorithm or now - current.created >= config.rotate_after
        if due or force_rotate:
            kept = [SigningKey(k.kid, k.alg, k.created, now, k.private) if k.retired is None else k for k in kept]
            if config.overlap <= 0:
                kept = []
            current = _new_key(config.algorithm, now)
            kept.append(current)
            changed = True
        if changed:
            _write(path, kept, passphrase)
        if current is None:  # unreachable: a due rotation above always makes one
            raise KeyStoreError(f"{path}: no active signing key")
        return KeyRing(active=current, keys={k.kid: k for k in kept})
