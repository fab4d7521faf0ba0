"""The loopback cluster in short form (a few seconds of load each): HAProxy in front of two gateway nodes,
a control-API process, PostgreSQL behind a relay the test can cut, a private Redis the test can restart.

One cluster for the whole story, because starting one costs ~15 s: smoke (publish -> subscribe -> token ->
call -> throttle shared across nodes), rolling restart and SIGHUP with a changed config under load (zero
failed requests), PostgreSQL away (gateways keep serving, control API 503 + Retry-After, then recovers),
Redis restarted (calls keep passing on the local fallback, then counting resumes in Redis), node loss
(HAProxy takes the node out; the throttle stays exact across the survivor)."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from bench.cluster.scenarios import Load, kill_node, reload_changed_config, rolling_restart, throttle_exact
from bench.cluster.smoke import SMOKE_LIMIT, ControlClient, smoke
from bench.cluster.topology import Cluster, Ports, down, up
from tests.faults import TcpRelay
from tests.policies.throttle.conftest import redis_server
from tests.servers import free_port
from tests.services import in_ci, require_service


def require_haproxy() -> None:
    if shutil.which("haproxy") is None:
        if in_ci():
            pytest.fail("haproxy is missing; .ci/run installs it")
        pytest.skip("haproxy is not installed (make cluster installs it: apt-get install haproxy)")


async def test_cluster_smoke_rolling_restart_store_faults_and_node_loss(tmp_path: Path) -> None:
    require_haproxy()
    pg_host, pg_port = require_service("postgres")
    require_service("redis")  # redis-server is there; the cluster gets its own instance to restart
    relay = TcpRelay(pg_host, pg_port)
    redis_port = free_port()
    ports = Ports(free_port(), [free_port(), free_port()], free_port(), free_port())
    postgres = f"postgresql://postgres@127.0.0.1:{await relay.start()}"
    cluster = Cluster.new(tmp_path / "cluster", ports, postgres=postgres, redis=f"redis://127.0.0.1:{redis_port}/0")
    redis = redis_server(redis_port)
    redis.__enter__()
    try:
        await asyncio.to_thread(up, cluster)
        result = await smoke(cluster)
        assert result.throttled == Counter({200: SMOKE_LIMIT, 429: SMOKE_LIMIT})
        assert set(result.nodes) == {"node1", "node2"}
        async with aiohttp.ClientSession() as http:
            token = await result.load.token(http, cluster.lb_url)
        load = Load(cluster.lb_url + result.load.path, token, concurrency=4, pause=0.005)

        async with load.running():
            await asyncio.sleep(0.5)
            assert await rolling_restart(cluster, load) == [0, 0]
            assert await reload_changed_config(cluster, load, "2") == 0
            served = load.total
        assert load.failed == 0 and load.total > 100, load.statuses
        assert served > 0

        # PostgreSQL away: the gateways serve their last catalog view, the control API says 503 + Retry-After
        async with Load(load.url, token, concurrency=2, pause=0.01).running() as during:
            await relay.cut()
            async with aiohttp.ClientSession() as http:
                control = ControlClient(http, cluster.control_url)
                async with http.get(f"{control.base}/apis") as response:
                    assert response.status in (401, 503)  # the sign-in itself needs the store
                async with http.post(f"{control.base}/auth/token", json={"username": "x", "password": "y"}) as r:
                    assert r.status == 503 and r.headers["retry-after"] == "2"
                await asyncio.sleep(1.0)
                await relay.restore()
                await control.sign_in()  # recovered by itself
                await control.call("GET", "/apis", 200)
        assert during.failed == 0 and during.statuses[200] > 10, during.statuses

        # Redis restarted: calls keep passing (local fallback), then counting resumes in Redis
        async with Load(load.url, token, concurrency=2, pause=0.01).running() as during:
            redis.__exit__(None, None, None)
            await asyncio.sleep(1.0)
            redis = redis_server(redis_port)
            redis.__enter__()
            await asyncio.sleep(1.0)
        assert during.failed == 0, during.statuses
        assert await throttle_exact(cluster, result.api) == Counter({200: SMOKE_LIMIT, 429: SMOKE_LIMIT})
        assert await _redis_keys(redis_port, cluster.prefix) > 0

        # node loss: HAProxy takes the killed node out; what failed is counted; the survivor counts exactly
        async with Load(load.url, token, concurrency=4, pause=0.005).running() as during:
            await asyncio.sleep(0.3)
            loss = await kill_node(cluster, during)
        assert loss.marked_down_after < 3.0
        assert loss.failed <= 4  # at most the requests in flight on that node (HAProxy retries most)
        assert await throttle_exact(cluster, result.api) == Counter({200: SMOKE_LIMIT, 429: SMOKE_LIMIT})
    finally:
        await asyncio.to_thread(down, cluster)
        redis.__exit__(None, None, None)
        await relay.cut()


async def _redis_keys(port: int, prefix: str) -> int:
    import coredis

    client = coredis.Redis(host="127.0.0.1", port=port)
    return len([key async for key in client.scan_iter(match=f"*{prefix}*")])
