"""The validated-token cache counts hits and misses (an expired entry is a miss) for /metrics."""

from __future__ import annotations

from keymanager.base import Principal
from keymanager.registry import KeyManagers


def test_hits_misses_and_entries_reach_metrics():
    managers = KeyManagers()
    cache = managers.cache
    principal = Principal(
        key_manager="resident", issuer="iss", subject="sub", application="app", scopes=frozenset(), tenant="t",
        expires_at=100.0, claims={},
    )  # fmt: skip
    cache.put(b"k", principal)
    assert cache.get(b"k", 50.0) is principal and cache.get(b"nope", 50.0) is None
    assert cache.get(b"k", 150.0) is None  # expired: a miss, and gone
    families = {family.name: family for family in managers.collect_metrics()}
    lookups = {s.labels["result"]: s.value for s in families["splp_keymanager_cache_lookups"].samples}
    assert lookups == {"hit": 1, "miss": 2}
    assert families["splp_keymanager_cache_entries"].samples[0].value == 0
