"""Content-Digest (RFC 9530): parse the header and verify the body's digest as it streams."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

# RFC 9530 section 5: the active algorithms; the deprecated ones (md5, sha, crc32c...) are not accepted.
ALGORITHMS = {"sha-256": "sha256", "sha-512": "sha512"}


class DigestError(ValueError):
    pass


def parse(value: bytes) -> tuple[str, bytes]:
    """The strongest supported (algorithm, expected digest) of a Content-Digest field value (an RFC 8941
    dictionary of byte sequences, e.g. `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`)."""
    found: dict[str, bytes] = {}
    for member in value.decode("latin-1").split(","):
        key, sep, item = member.strip().partition("=")
        item = item.partition(";")[0].strip()  # parameters carry nothing we use
        if not sep or len(item) < 2 or item[0] != ":" or item[-1] != ":":
            raise DigestError(f"{member.strip()!r} is not algorithm=:base64:")
        try:
            found[key.strip().lower()] = base64.b64decode(item[1:-1], validate=True)
        except (binascii.Error, ValueError):
            raise DigestError(f"{key.strip()!r} holds invalid base64") from None
    for algorithm in ("sha-512", "sha-256"):
        if algorithm in found:
            expected = found[algorithm]
            if len(expected) != hashlib.new(ALGORITHMS[algorithm]).digest_size:
                raise DigestError(f"{algorithm} digest has {len(expected)} bytes")
            return algorithm, expected
    raise DigestError(f"no supported algorithm ({', '.join(ALGORITHMS)}) in {sorted(found)}")


class Verifier:
    """Hashes body chunks; `matches()` once the whole body has passed."""

    __slots__ = ("algorithm", "_expected", "_hash")

    def __init__(self, algorithm: str, expected: bytes) -> None:
        self.algorithm = algorithm
        self._expected = expected
        self._hash = hashlib.new(ALGORITHMS[algorithm])

    def update(self, chunk: bytes) -> None:
        self._hash.update(chunk)

    def matches(self) -> bool:
        return hmac.compare_digest(self._hash.digest(), self._expected)

    def field(self) -> str:
        """The digest seen, in Content-Digest notation (for the analytics event)."""
        return f"{self.algorithm}=:{base64.b64encode(self._hash.digest()).decode()}:"
