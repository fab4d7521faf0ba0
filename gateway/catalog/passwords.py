"""Password hashes for control-API accounts: keymanager/hashing.py's scrypt format (`scrypt$n$r$p$salt$hash`),
so one hash verifies in both places. Checks are constant time, and a check
against an unknown user still spends one scrypt (`verify_or_burn`) so timing does not reveal which
usernames exist. scrypt is CPU-heavy on purpose: async callers go through asyncio.to_thread.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from keymanager.hashing import hash_secret, verify_secret


@dataclass(frozen=True, slots=True)
class PasswordHasher:
    """scrypt cost: n=2**15, r=8, p=1 (about 32 MiB and 50-100 ms per hash). Tests may lower `n`;
    a stored hash carries its own cost, so raising it later keeps old hashes valid."""

    n: int = 2**15
    r: int = 8
    p: int = 1

    def hash(self, password: str) -> str:
        return hash_secret(password, n=self.n, r=self.r, p=self.p)

    def verify(self, password: str, stored: str) -> bool:
        """True when `password` matches; False for a wrong password or a malformed hash."""
        return verify_secret(password, stored)

    def verify_or_burn(self, password: str, stored: str | None) -> bool:
        if stored is None:
            self.verify(password, self._dummy)
            return False
        return self.verify(password, stored)

    @property
    def _dummy(self) -> str:
        return _dummy_hash(self.n, self.r, self.p)

    async def hash_async(self, password: str) -> str:
        return await asyncio.to_thread(self.hash, password)

    async def verify_async(self, password: str, stored: str | None) -> bool:
        return await asyncio.to_thread(self.verify_or_burn, password, stored)


_DUMMIES: dict[tuple[int, int, int], str] = {}


def _dummy_hash(n: int, r: int, p: int) -> str:
    key = (n, r, p)
    if key not in _DUMMIES:
        _DUMMIES[key] = PasswordHasher(n, r, p).hash(os.urandom(16).hex())
    return _DUMMIES[key]
