"""Throttling tiers in the catalog: put / list / delete, audited; rates checked; merged over conf/ tiers."""

from __future__ import annotations

import pytest

from gateway.catalog.audit import Actor
from gateway.catalog.errors import Invalid, NotFound
from gateway.catalog.export import catalog_tiers
from gateway.catalog.store import CatalogStore
from gateway.catalog.tiers import TierKind, TierWrite
from gateway.config.tiers import Tier, TiersConfig

ADMIN = Actor("u-1", "root", None)
SUB, APP = TierKind.SUBSCRIPTION, TierKind.APPLICATION


async def test_put_list_delete_each_audited(store: CatalogStore) -> None:
    gold = await store.tiers.put(ADMIN, SUB, "Gold", TierWrite(requests="6000/minute", burst="100/second"))
    assert (gold.kind, gold.name, gold.requests, gold.burst) == (SUB, "Gold", "6000/minute", "100/second")
    await store.tiers.put(ADMIN, APP, "Partner", TierWrite(requests="300/minute", description="partners"))
    changed = await store.tiers.put(ADMIN, SUB, "Gold", TierWrite(requests="7000/minute"))
    assert changed.burst is None and changed.created_at == gold.created_at
    assert [(t.kind, t.name) for t in await store.tiers.list()] == [(APP, "Partner"), (SUB, "Gold")]
    assert [t.name for t in await store.tiers.list(SUB)] == ["Gold"]
    assert await store.tiers.get(SUB, "Gold") == changed
    await store.tiers.delete(ADMIN, SUB, "Gold")
    with pytest.raises(NotFound):
        await store.tiers.get(SUB, "Gold")
    with pytest.raises(NotFound):
        await store.tiers.delete(ADMIN, SUB, "Gold")
    entries = await store.audit.list(object_type="tier", object_id="subscription/Gold")
    assert [e.action for e in entries] == ["tier.delete", "tier.update", "tier.create"]
    assert entries[1].before["requests"] == "6000/minute" and entries[1].after["requests"] == "7000/minute"
    assert entries[0].actor_name == "root" and entries[0].after is None


async def test_bad_rates_are_refused_naming_the_field(store: CatalogStore) -> None:
    with pytest.raises(Invalid) as caught:
        await store.tiers.put(ADMIN, SUB, "Bad", TierWrite(requests="10/minit"))
    assert caught.value.field == "requests" and "is not a rate" in str(caught.value)
    with pytest.raises(Invalid) as caught:
        await store.tiers.put(ADMIN, SUB, "Bad", TierWrite(requests="10/minute", burst="0/second"))
    assert caught.value.field == "burst"
    assert await store.tiers.list() == []
    assert await store.audit.list(object_type="tier") == []  # nothing written, nothing audited


async def test_catalog_tiers_merge_over_conf(store: CatalogStore) -> None:
    conf = TiersConfig(
        subscription={"Gold": Tier(requests="5000/minute"), "Bronze": Tier(requests="1000/minute")},
        application={"Unlimited": Tier()},
    )
    assert await catalog_tiers(store, conf) is None  # no tiers in the store: conf/ applies
    await store.tiers.put(ADMIN, SUB, "Gold", TierWrite(requests="9000/minute"))
    await store.tiers.put(ADMIN, SUB, "Platinum", TierWrite(requests="20000/minute", burst="500/second"))
    await store.tiers.put(ADMIN, APP, "Partner", TierWrite(requests="300/minute"))
    merged = await catalog_tiers(store, conf)
    assert merged is not None
    assert merged.subscription["Gold"].requests == "9000/minute"  # replaced
    assert merged.subscription["Bronze"].requests == "1000/minute"  # kept
    assert merged.subscription["Platinum"].burst == "500/second"  # added
    assert set(merged.application) == {"Unlimited", "Partner"}
    defaults = await catalog_tiers(store)  # without conf: over the built-in (WSO2) defaults
    assert defaults is not None and "Silver" in defaults.subscription and "Partner" in defaults.application
