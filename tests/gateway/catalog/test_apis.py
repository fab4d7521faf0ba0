"""APIs in the store on both engines: gateway-valid definitions only, (context, version) unique,
lifecycle table, new versions, visibility in SQL and in Python, search, audit, export as ApiConfig."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.catalog.api_models import ApiCreate, ApiStatus, ApiUpdate, LifecycleAction
from gateway.catalog.audit import Actor
from gateway.catalog.errors import Conflict, Invalid, NotFound
from gateway.catalog.export import published_api_configs
from gateway.catalog.store import CatalogStore
from gateway.catalog.visibility import Viewer
from gateway.config.model import ApiConfig
from tests.gateway.catalog.test_repositories import tree

SYSTEM = Actor.system("test")
A = LifecycleAction


def definition(**extra: Any) -> ApiCreate:
    base: dict[str, Any] = {
        "name": "Pegawai",
        "context": "/bappenas/pegawai",
        "version": "v1",
        "description": "Data kepegawaian ASN",
        "tags": ["HR", "asn"],
        "backend": {"endpoints": ["http://10.0.0.5:9000/api"], "timeouts": {"read": "5s"}},
        "resources": ["GET /pegawai/{nip}", "GET,POST /pegawai"],
        "policies": [{"cors": {}}],
    }
    return ApiCreate.model_validate({**base, **extra})


def viewer_of(ids: dict[str, str], own: str, scope: list[str]) -> Viewer:
    lineage = {"unit": ("unit", "bap", "nat"), "bap": ("bap", "nat"), "jabar": ("jabar", "nat")}[own]
    return Viewer(frozenset(ids[s] for s in scope), tuple(ids[s] for s in lineage))


async def test_create_read_update_delete_audited(store: CatalogStore) -> None:
    ids = await tree(store)
    api = await store.apis.create(SYSTEM, definition(), tenant_id=ids["bap"])
    assert (api.tenant, api.status, api.tags) == ("bappenas", ApiStatus.CREATED, ["asn", "hr"])
    assert api.resources == ["GET /pegawai/{nip}", "GET,POST /pegawai"]
    assert api.backend == {
        "endpoints": [{"url": "http://10.0.0.5:9000/api", "weight": 1}],
        "timeouts": {"connect": 5.0, "read": 5.0, "total": 60.0},
        "preserve_host": False,
    }
    assert await store.apis.get(api.id) == api
    changed = await store.apis.update(SYSTEM, api.id, ApiUpdate(description="Baru", tags=("x",)))
    assert (changed.description, changed.tags, changed.resources) == ("Baru", ["x"], api.resources)
    await store.apis.delete(SYSTEM, api.id)
    with pytest.raises(NotFound):
        await store.apis.get(api.id)
    trail = await store.audit.list(object_type="api", object_id=api.id)
    assert [e.action for e in trail] == ["api.delete", "api.update", "api.create"]
    assert trail[1].before["description"] == "Data kepegawaian ASN" and trail[1].after["description"] == "Baru"
    assert trail[0].after is None and trail[2].before is None and trail[2].tenant_id == ids["bap"]


async def test_only_gateway_loadable_definitions(store: CatalogStore) -> None:
    ids = await tree(store)
    bad = [
        ({"context": "no-slash"}, ["context"]),
        ({"version": "v 1"}, ["version"]),
        ({"policies": [{"no-such-policy": {}}]}, ["policies", 0, "no-such-policy"]),
        ({"policies": [{"throttle": {"nonsense": 1}}]}, ["policies", 0, "throttle", "nonsense"]),
    ]
    for extra, loc in bad:
        with pytest.raises(Invalid) as err:
            await store.apis.create(SYSTEM, definition(**extra), tenant_id=ids["bap"])
        assert err.value.problems[0]["loc"] == loc, extra
    with pytest.raises(Invalid, match="visible_tenants"):
        await store.apis.create(
            SYSTEM, definition(visibility="restricted", visible_tenants=["ghost"]), tenant_id=ids["bap"]
        )
    assert await store.apis.list(None) == []
    assert await store.audit.list(object_type="api") == []


async def test_duplicate_context_version(store: CatalogStore) -> None:
    ids = await tree(store)
    first = await store.apis.create(SYSTEM, definition(), tenant_id=ids["bap"])
    with pytest.raises(Conflict, match="context"):
        await store.apis.create(SYSTEM, definition(name="Other"), tenant_id=ids["jabar"])
    other = await store.apis.create(SYSTEM, definition(version="v2"), tenant_id=ids["bap"])
    with pytest.raises(Conflict, match="context"):
        await store.apis.update(SYSTEM, other.id, ApiUpdate(version="v1"))
    with pytest.raises(Conflict):
        await store.apis.new_version(SYSTEM, first.id, "v2")
    assert len(await store.apis.list(None)) == 2


async def test_lifecycle(store: CatalogStore) -> None:
    ids = await tree(store)
    api = await store.apis.create(SYSTEM, definition(), tenant_id=ids["bap"])
    with pytest.raises(Conflict, match="cannot deprecate an API that is CREATED; allowed: publish"):
        await store.apis.transition(SYSTEM, api.id, A.DEPRECATE)
    assert (await store.apis.transition(SYSTEM, api.id, A.PUBLISH)).status is ApiStatus.PUBLISHED
    with pytest.raises(Conflict, match="PUBLISHED"):
        await store.apis.delete(SYSTEM, api.id)
    with pytest.raises(Conflict, match="only while the API is CREATED"):
        await store.apis.update(SYSTEM, api.id, ApiUpdate(context="/moved"))
    blocked = await store.apis.transition(SYSTEM, api.id, A.BLOCK)
    assert (blocked.status, blocked.blocked_from) == (ApiStatus.BLOCKED, ApiStatus.PUBLISHED)
    with pytest.raises(Conflict, match="allowed: unblock"):
        await store.apis.transition(SYSTEM, api.id, A.PUBLISH)
    back = await store.apis.transition(SYSTEM, api.id, A.UNBLOCK)
    assert (back.status, back.blocked_from) == (ApiStatus.PUBLISHED, None)
    await store.apis.transition(SYSTEM, api.id, A.DEPRECATE)
    await store.apis.transition(SYSTEM, api.id, A.BLOCK)
    assert (await store.apis.transition(SYSTEM, api.id, A.UNBLOCK)).status is ApiStatus.DEPRECATED
    assert (await store.apis.transition(SYSTEM, api.id, A.RETIRE)).status is ApiStatus.RETIRED
    with pytest.raises(Conflict, match=r"allowed: none \(final state\)"):
        await store.apis.transition(SYSTEM, api.id, A.PUBLISH)
    with pytest.raises(Conflict, match="RETIRED"):
        await store.apis.update(SYSTEM, api.id, ApiUpdate(description="late"))
    actions = [e.action for e in await store.audit.list(object_type="api", object_id=api.id)]
    assert actions[:2] == ["api.retire", "api.unblock"] and actions[-1] == "api.create"
    await store.apis.delete(SYSTEM, api.id)


async def test_new_version_copies_as_created(store: CatalogStore) -> None:
    ids = await tree(store)
    v1 = await store.apis.create(
        SYSTEM, definition(visibility="restricted", visible_tenants=[ids["jabar"]]), tenant_id=ids["bap"]
    )
    await store.apis.transition(SYSTEM, v1.id, A.PUBLISH)
    v2 = await store.apis.new_version(SYSTEM, v1.id, "v2")
    assert v2.id != v1.id and (v2.version, v2.status) == ("v2", ApiStatus.CREATED)
    same = ("name", "context", "tags", "backend", "resources", "policies", "visibility", "visible_tenants", "tenant_id")
    assert all(getattr(v2, key) == getattr(v1, key) for key in same)
    with pytest.raises(Invalid):
        await store.apis.new_version(SYSTEM, v1.id, "bad version")


async def test_visibility_in_sql_matches_python(store: CatalogStore) -> None:
    ids = await tree(store)
    made = {}
    for name, extra in {
        "pub": {"visibility": "public"},
        "ten": {"visibility": "tenant"},
        "res": {"visibility": "restricted", "visible_tenants": [ids["jabar"]]},
        "none": {"visibility": "restricted"},
    }.items():
        made[name] = await store.apis.create(SYSTEM, definition(context=f"/b/{name}", **extra), tenant_id=ids["bap"])
    jabar_api = await store.apis.create(SYSTEM, definition(context="/j/ten"), tenant_id=ids["jabar"])
    cases = {
        "bap admin": (viewer_of(ids, "bap", ["bap", "unit"]), {"pub", "ten", "res", "none"}),
        "unit user": (viewer_of(ids, "unit", ["unit"]), {"pub", "ten"}),
        "jabar user": (viewer_of(ids, "jabar", ["jabar"]), {"pub", "res", "jabar"}),
    }
    names = {api.id: name for name, api in made.items()} | {jabar_api.id: "jabar"}
    everything = await store.apis.list(None)
    for label, (viewer, expected) in cases.items():
        listed = {names[api.id] for api in await store.apis.list(viewer)}
        assert listed == expected, label
        assert {names[api.id] for api in everything if viewer.sees(api)} == expected, label


async def test_search_and_export(store: CatalogStore) -> None:
    ids = await tree(store)
    apis = []
    for i in range(5):
        api = await store.apis.create(
            SYSTEM,
            definition(
                name=f"Layanan {i}",
                context=f"/svc/s{i}",
                description="Data 100% terbuka" if i == 0 else "lain",
                tags=["kesehatan"] if i % 2 else ["pajak"],
                visibility="public",
                groups=["external"] if i == 4 else ["default"],
            ),
            tenant_id=ids["bap"] if i < 3 else ids["jabar"],
        )
        apis.append(api)
    for api in apis[1:]:
        await store.apis.transition(SYSTEM, api.id, A.PUBLISH)
    await store.apis.transition(SYSTEM, apis[3].id, A.DEPRECATE)
    await store.apis.transition(SYSTEM, apis[2].id, A.BLOCK)
    served = (ApiStatus.PUBLISHED, ApiStatus.DEPRECATED)
    entries, total = await store.apis.search(None, statuses=served, limit=2)
    assert total == 3 and [e.name for e in entries] == ["Layanan 1", "Layanan 3"]
    entries, _ = await store.apis.search(None, statuses=served, limit=2, offset=2)
    assert [e.name for e in entries] == ["Layanan 4"]
    assert (await store.apis.search(None, statuses=served, tag="KESEHATAN"))[1] == 2
    assert (await store.apis.search(None, statuses=served, tenant="jabar"))[1] == 2
    assert (await store.apis.search(None, statuses=served, tenant=ids["bap"]))[1] == 1
    assert (await store.apis.search(None, statuses=(ApiStatus.CREATED,), q="100%"))[1] == 1  # % is literal
    assert (await store.apis.search(None, statuses=(ApiStatus.CREATED,), q="100_"))[1] == 0
    assert (await store.apis.search(None, statuses=served, q="LAYANAN 4"))[1] == 1
    configs = await published_api_configs(store, None)
    assert all(isinstance(c, ApiConfig) for c in configs)
    assert [(c.prefix, c.tenant) for c in configs] == [
        ("/svc/s1/v1", "bappenas"),
        ("/svc/s3/v1", "jabar"),
        ("/svc/s4/v1", "jabar"),
    ]
    assert configs[0] == ApiConfig.model_validate(
        {
            "name": "Layanan 1",
            "context": "/svc/s1",
            "version": "v1",
            "tenant": "bappenas",
            "description": "lain",
            "backend": {"endpoints": ["http://10.0.0.5:9000/api"], "timeouts": {"read": "5s"}},
            "resources": ["GET /pegawai/{nip}", "GET,POST /pegawai"],
            "policies": [{"cors": {}}],
        }
    )
    assert [c.context for c in await published_api_configs(store, "external")] == ["/svc/s4"]
    assert [c.context for c in await published_api_configs(store, "default")] == ["/svc/s1", "/svc/s3"]


async def test_migration_3_keeps_apis_written_under_schema_2(store_uri: str) -> None:
    """An API row from before migration 3 (no classification, groups, policies) reads after the upgrade
    with the defaults, and exports as a gateway ApiConfig."""
    from gateway.catalog.db import open_database
    from gateway.catalog.migrate import migrate
    from gateway.catalog.store import open_store

    db = await open_database(store_uri)
    try:
        assert await migrate(db, target=2) == [1, 2]
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO tenants (id, slug, name, kind, created_at, updated_at) VALUES ('t1', 'nat', 'N',"
                " 'national', 'x', 'x')"
            )
            await conn.execute(
                "INSERT INTO apis (id, tenant_id, name, context, version, visibility, visible_tenants, status,"
                " backends, resources, created_at, updated_at) VALUES ('a1', 't1', 'Old', '/old', 'v1', 'public',"
                " '[]', 'PUBLISHED', '{\"endpoints\": [{\"url\": \"http://old:80\"}]}', '[\"ANY /*\"]', 'x', 'x')"
            )
    finally:
        await db.close()
    store = await open_store(store_uri)
    try:
        api = await store.apis.get("a1")
        assert (api.classification.value, api.groups, api.policies, api.blocked_from) == (
            "internal",
            ["default"],
            [],
            None,
        )
        (config,) = await published_api_configs(store, "default")
        assert (config.prefix, config.tenant, config.backend.endpoints[0].url) == ("/old/v1", "nat", "http://old:80")
    finally:
        await store.close()
