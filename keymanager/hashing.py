"""Secrets at rest: scrypt for client secrets and passwords (low entropy, slow on purpose), sha256 for API keys.

API keys are 32 random bytes: a fast hash is enough for them and lets the gateway look a key up by its hash.
Comparisons are constant time. Run `python -m keymanager.hashing secret|password|apikey` to hash a value
read from stdin (or generate a new API key / client secret with `new-apikey` / `new-secret`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sys

_N, _R, _P = 2**15, 8, 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_secret(secret: str, *, n: int = _N, r: int = _R, p: int = _P) -> str:
    """`scrypt$n$r$p$salt$hash` (base64), as stored in conf."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    """Constant-time check of a secret against its scrypt hash; False for any malformed hash. CPU-heavy:
    call it through asyncio.to_thread from async code."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(expected, validate=True)
        got = hashlib.scrypt(
            secret.encode(),
            salt=base64.b64decode(salt, validate=True),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=256 * 1024 * 1024,
            dklen=len(want),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def hash_api_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    return secrets.token_urlsafe(32)


def main(argv: list[str]) -> int:
    usage = "usage: python -m keymanager.hashing secret|password|apikey|new-apikey|new-secret  (value on stdin)"
    if len(argv) != 1:
        print(usage, file=sys.stderr)
        return 2
    command = argv[0]
    if command == "new-apikey":
        key = new_api_key()
        print(f"key:  {key}\nhash: {hash_api_key(key)}")
        return 0
    if command == "new-secret":
        secret = secrets.token_urlsafe(32)
        print(f"secret: {secret}\nhash:   {hash_secret(secret)}")
        return 0
    value = sys.stdin.readline().rstrip("\n")
    if command in ("secret", "password"):
        print(hash_secret(value))
    elif command == "apikey":
        print(hash_api_key(value))
    else:
        print(usage, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
