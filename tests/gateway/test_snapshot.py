"""Snapshot building: a policy that refuses its config at build time is a located config error."""

from __future__ import annotations

import aiohttp
import pytest

from gateway.app import GatewayApp
from gateway.config.errors import ConfigError
from gateway.config.load import load_config
from tests.gateway.conftest import api, running_gateway, serve_status
from tests.servers import EchoUpstream, free_port, serve


def test_policy_cross_check_failure_names_file_and_path(write_config):
    path = write_config([api("svc", ["http://127.0.0.1:9"], policies=[{"auth": {"key_managers": ["nosuch"]}}])])
    config = load_config(path)  # each section is valid on its own
    with pytest.raises(ConfigError) as info:
        GatewayApp(config)
    assert str(info.value) == (
        f"{path}: 1 error\n"
        "  apis[0].policies.auth: auth: key manager 'nosuch' is not declared in key_managers (declared: none)"
    )


async def test_ready_reports_stores_and_degrades_when_redis_is_down(write_config):
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    async with serve(EchoUpstream()) as port:
        throttle = {"throttle": {"api": [{"name": "per-ip", "limit": "100/minute", "per": "ip"}]}}
        path = write_config(
            [api("svc", [f"http://127.0.0.1:{port}"], policies=[throttle])], storage={"counters": dead_redis}
        )
        async with running_gateway(path) as (base, app), serve_status(app) as status:
            async with aiohttp.ClientSession() as client, client.get(f"{status}/_ready") as response:
                ready = await response.json()
            async with aiohttp.ClientSession() as client, client.get(f"{base}/_ready") as response:
                assert await response.json() == {"status": ready["status"]}  # the data port: the word only
    assert response.status == 200  # degraded, still in rotation: the limits fall back as configured
    assert ready["status"] == "degraded"
    ((key, problem),) = ready["stores"].items()
    assert key.startswith("throttle:") and problem.startswith(f"{dead_redis} unreachable")


async def test_ready_with_memory_counters(write_config):
    async with serve(EchoUpstream()) as port:
        throttle = {"throttle": {"api": [{"name": "per-ip", "limit": "100/minute", "per": "ip"}]}}
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"], policies=[throttle])])
        async with running_gateway(path) as (base, app), serve_status(app) as status:
            async with aiohttp.ClientSession() as client, client.get(f"{status}/_ready") as response:
                ready = await response.json()
            async with aiohttp.ClientSession() as client, client.get(f"{base}/_ready") as response:
                assert await response.json() == {"status": ready["status"]}  # the data port: the word only
    assert response.status == 200 and ready["status"] == "ready"
    assert ready["stores"] == {"throttle:memory://": "ok"} and ready["apis"] == 1
