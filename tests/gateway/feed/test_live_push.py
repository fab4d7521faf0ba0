"""Live push: a change committed to the catalog is served by running gateways within a second, on
SQLite (polling) and PostgreSQL (LISTEN/NOTIFY); a node that starts later syncs at once; a node
whose store is down keeps serving conf/ and says so on /_ready."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.catalog.api_models import ApiCreate, ApiUpdate, LifecycleAction
from gateway.catalog.audit import Actor
from gateway.catalog.models import TenantCreate
from gateway.catalog.store import CatalogStore
from tests.gateway.conftest import api, running_gateway, serve_status, spawned_gateway
from tests.servers import EchoUpstream, free_port, serve

SYSTEM = Actor.system("test")
PUSH_DEADLINE = 1.0  # the promise: every node serves a committed change within a second


async def publish(
    store: CatalogStore, upstream: str, name: str = "pegawai", groups: tuple[str, ...] = ("default",)
) -> str:
    national = [t for t in await store.tenants.list() if t.kind == "national"]
    if not national:
        national = [await store.tenants.create(SYSTEM, TenantCreate(slug="kominfo", name="Kominfo", kind="national"))]
    tenant = await store.tenants.create(
        SYSTEM, TenantCreate(slug=f"t-{name}", name=name, kind="ministry", parent_id=national[0].id)
    )
    created = await store.apis.create(
        SYSTEM,
        ApiCreate.model_validate(
            {
                "name": name,
                "context": f"/{name}",
                "version": "v1",
                "backend": {"endpoints": [upstream]},
                "groups": groups,
            }
        ),
        tenant_id=tenant.id,
    )
    await store.apis.transition(SYSTEM, created.id, LifecycleAction.PUBLISH)
    return created.id


async def status_within(http: aiohttp.ClientSession, url: str, want: int, deadline: float) -> float:
    """Seconds until `url` answers `want`; fails past `deadline` seconds."""
    start = time.monotonic()
    last: Any = None
    while time.monotonic() - start < deadline:
        async with http.get(url) as response:
            last = response.status
            if last == want:
                return time.monotonic() - start
        await asyncio.sleep(0.02)
    raise AssertionError(f"{url} still answers {last}, not {want}, after {deadline}s")


def feed_config(
    write_config: Callable[..., Path], uri: str, apis: list[dict[str, Any]] | None = None, group: str = "default"
) -> Path:
    return write_config(apis or [], storage={"catalog": uri, "serve_catalog": True}, gateway={"group": group})


async def test_publish_update_retire_reach_a_running_gateway(
    store: CatalogStore, store_uri: str, write_config: Callable[..., Path]
) -> None:
    upstream = EchoUpstream("catalog")
    async with serve(upstream) as up, running_gateway(feed_config(write_config, store_uri)) as (base, app):
        async with aiohttp.ClientSession() as http:
            assert (await http.get(f"{base}/pegawai/v1/echo")).status == 404
            api_id = await publish(store, f"http://127.0.0.1:{up}")
            await status_within(http, f"{base}/pegawai/v1/echo", 200, PUSH_DEADLINE)
            assert upstream.requests[-1]["path"] == "/echo"

            await store.apis.update(SYSTEM, api_id, ApiUpdate(resources=("GET /only",)))
            await status_within(http, f"{base}/pegawai/v1/echo", 404, PUSH_DEADLINE)
            await store.apis.transition(SYSTEM, api_id, LifecycleAction.DEPRECATE)  # still served
            await asyncio.sleep(0.3)
            assert (await http.get(f"{base}/pegawai/v1/only")).status == 200
            await store.apis.transition(SYSTEM, api_id, LifecycleAction.RETIRE)
            await status_within(http, f"{base}/pegawai/v1/only", 404, PUSH_DEADLINE)
            async with serve_status(app) as status:
                ready = await (await http.get(f"{status}/_ready")).json()
            assert ready["stores"]["catalog"] == "ok"


async def test_a_change_that_serves_nothing_new_keeps_the_snapshot(
    store: CatalogStore, store_uri: str, write_config: Callable[..., Path]
) -> None:
    async with running_gateway(feed_config(write_config, store_uri)) as (_, app):
        await publish(store, "http://127.0.0.1:9")
        for _ in range(50):
            if app.holder.current.apis:
                break
            await asyncio.sleep(0.05)
        version = app.holder.current.version
        await store.apis.create(  # a draft: audited, but nothing a gateway serves
            SYSTEM,
            ApiCreate.model_validate(
                {"name": "d", "context": "/draft", "version": "v1", "backend": {"endpoints": ["http://127.0.0.1:9"]}}
            ),
            tenant_id=(await store.tenants.list())[0].id,
        )
        await asyncio.sleep(0.6)  # more than two SQLite polls, and a NOTIFY round trip
        assert app.holder.current.version == version


async def test_a_node_serves_only_the_apis_deployed_to_its_group(
    store: CatalogStore, store_uri: str, write_config: Callable[..., Path]
) -> None:
    await publish(store, "http://127.0.0.1:9", "internal", groups=("internal",))
    await publish(store, "http://127.0.0.1:9", "both", groups=("internal", "external"))
    async with running_gateway(feed_config(write_config, store_uri, group="external")) as (_, app):
        assert [a.prefix for a in app.holder.current.apis] == ["/both/v1"]


async def test_file_reload_keeps_the_catalog_apis(
    store: CatalogStore, store_uri: str, write_config: Callable[..., Path]
) -> None:
    path = feed_config(write_config, store_uri, [api("filed", ["http://127.0.0.1:9"])])
    await publish(store, "http://127.0.0.1:9")
    async with running_gateway(path) as (_, app):
        assert sorted(a.prefix for a in app.holder.current.apis) == ["/filed/v1", "/pegawai/v1"]
        feed_config(write_config, store_uri, [api("filed2", ["http://127.0.0.1:9"])])
        assert await app.reloader.reload()
        assert sorted(a.prefix for a in app.holder.current.apis) == ["/filed2/v1", "/pegawai/v1"]


async def test_store_down_at_start_serves_files_and_reports_it(write_config: Callable[..., Path]) -> None:
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    path = feed_config(write_config, dead, [api("filed", ["http://127.0.0.1:9"])])
    started = time.monotonic()
    async with running_gateway(path) as (base, app), aiohttp.ClientSession() as http:
        assert time.monotonic() - started < 10
        async with serve_status(app) as status:
            ready = await (await http.get(f"{status}/_ready")).json()
        assert ready["status"] == "degraded" and ready["stores"]["catalog"] != "ok"
        assert [a.prefix for a in app.holder.current.apis] == ["/filed/v1"]


async def test_a_node_started_while_the_store_is_down_serves_the_cached_view(
    store: CatalogStore, store_uri: str, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    cache = tmp_path / "cache" / "catalog-view.json"
    upstream = EchoUpstream("cached")
    async with serve(upstream) as up:
        await publish(store, f"http://127.0.0.1:{up}")
        live = write_config([], storage={"catalog": store_uri, "serve_catalog": True, "catalog_cache": str(cache)})
        async with running_gateway(live):
            pass
        assert cache.stat().st_mode & 0o777 == 0o600
        dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
        down = write_config([], storage={"catalog": dead, "serve_catalog": True, "catalog_cache": str(cache)})
        async with running_gateway(down) as (base, app), serve_status(app) as status, aiohttp.ClientSession() as http:
            assert (await http.get(f"{base}/pegawai/v1/echo")).status == 200
            ready = await (await http.get(f"{status}/_ready")).json()  # store details: the status listener's
            assert ready["status"] == "degraded"
            assert "serving the catalog view cached at " in ready["stores"]["catalog"]  # readiness says so
        cache.write_text("{not json")
        async with running_gateway(down) as (base, app), serve_status(app) as status, aiohttp.ClientSession() as http:
            assert (await http.get(f"{base}/pegawai/v1/echo")).status == 404  # a broken cache is ignored
            ready = await (await http.get(f"{status}/_ready")).json()
            assert ready["stores"]["catalog"].endswith("; serving conf/ only")


@pytest.mark.postgres
async def test_two_gateway_processes_follow_postgres_within_a_second(
    pg_module_database: str, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """The cluster case: separate `splp serve` processes; one started after the change syncs on start."""
    from gateway.catalog.store import open_store

    uri = pg_module_database
    store = await open_store(uri)
    upstream = EchoUpstream("catalog")
    try:
        path = feed_config(write_config, uri)
        async with serve(upstream) as up, spawned_gateway(path) as (one, _), spawned_gateway(path) as (two, _):
            async with aiohttp.ClientSession() as http:
                api_id = await publish(store, f"http://127.0.0.1:{up}", "cluster")
                # both nodes are polled together, so each figure is an upper bound for that node
                lags = await asyncio.gather(
                    status_within(http, f"{one}/cluster/v1/echo", 200, PUSH_DEADLINE),
                    status_within(http, f"{two}/cluster/v1/echo", 200, PUSH_DEADLINE),
                )
                print(f"live push lag: node one {lags[0] * 1000:.0f} ms, node two {lags[1] * 1000:.0f} ms")
                await store.apis.transition(SYSTEM, api_id, LifecycleAction.BLOCK)
                await status_within(http, f"{one}/cluster/v1/echo", 404, PUSH_DEADLINE)
                await status_within(http, f"{two}/cluster/v1/echo", 404, PUSH_DEADLINE)
                await store.apis.transition(SYSTEM, api_id, LifecycleAction.UNBLOCK)
                async with spawned_gateway(path) as (late, _):
                    assert (await http.get(f"{late}/cluster/v1/echo")).status == 200
    finally:
        await store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("store_uri", ["postgres"], indirect=True)
async def test_a_lost_listen_connection_is_noticed_at_once_and_the_node_catches_up(
    store: CatalogStore, store_uri: str, write_config: Callable[..., Path]
) -> None:
    """PostgreSQL restarted (here: the connections cut by a relay): the node keeps serving, says degraded,
    reconnects within seconds (not at the 30 s resync) and serves what was published meanwhile."""
    from urllib.parse import urlsplit

    from tests.faults import TcpRelay

    parts = urlsplit(store_uri)
    relay = TcpRelay(parts.hostname or "127.0.0.1", parts.port or 5432)
    relayed = store_uri.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{await relay.start()}")
    upstream = EchoUpstream("catalog")
    async with serve(upstream) as up, running_gateway(feed_config(write_config, relayed)) as (base, _):
        async with aiohttp.ClientSession() as http:
            await publish(store, f"http://127.0.0.1:{up}", "before")
            await status_within(http, f"{base}/before/v1/echo", 200, PUSH_DEADLINE)
            await relay.cut()
            await asyncio.sleep(0.5)
            ready = await (await http.get(f"{base}/_ready")).json()
            assert ready["status"] == "degraded", ready
            assert (await http.get(f"{base}/before/v1/echo")).status == 200  # the last view keeps serving
            await publish(store, f"http://127.0.0.1:{up}", "during")
            await relay.restore()
            await status_within(http, f"{base}/during/v1/echo", 200, 5.0)
            assert (await (await http.get(f"{base}/_ready")).json())["status"] == "ready"
    await relay.cut()
