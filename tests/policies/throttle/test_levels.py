"""Each level refusing in turn, through a real gateway (uvicorn + the chain) in front of a real backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

from tests.gateway.conftest import running_gateway
from tests.policies.throttle.conftest import load
from tests.servers import EchoUpstream, serve


def write(tmp_path: Path, throttle: dict[str, Any], port: int, **sections: Any) -> Path:
    data = {
        "gateway": {"watch_config": False},
        "control": {"enabled": False},
        "apis": [
            {
                "name": "svc",
                "context": "/svc",
                "version": "v1",
                "tenant": "kominfo",
                "backend": {"endpoints": [f"http://127.0.0.1:{port}"]},
                "resources": ["GET /items/{id}", "ANY /*"],
                "policies": [{"throttle": throttle}],
            }
        ],
        **sections,
    }
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def statuses(base: str, n: int, path: str = "/svc/v1/x", headers: dict[str, str] | None = None) -> list[int]:
    out = []
    async with aiohttp.ClientSession() as client:
        for _ in range(n):
            async with client.get(base + path, headers=headers) as response:
                await response.read()
                out.append(response.status)
    return out


async def body_of(base: str, path: str = "/svc/v1/x", headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    async with aiohttp.ClientSession() as client, client.get(base + path, headers=headers) as response:
        return response.status, response.headers, orjson.loads(await response.read())


CONSUMERS = {
    "tiers": {
        "subscription": {"Tiny": {"requests": "3/hour"}, "Big": {"requests": "100/hour"}},
        "application": {"Small": {"requests": "4/hour"}, "Unlimited": {}},
    },
    "applications": [
        {"id": "app-a", "tenant": "bappenas", "tier": "Small"},
        {"id": "app-b", "tenant": "bappenas", "tier": "Unlimited"},
        {"id": "app-x", "tenant": "bappenas", "blocked": True},
    ],
    "subscriptions": [
        {"application": "app-a", "api": "/svc/v1", "tier": "Big"},
        {"application": "app-b", "api": "/svc/v1", "tier": "Tiny"},
    ],
}


async def test_subscription_then_application_level(tmp_path):
    throttle = {
        "application_header": "X-App",
        "subscription": {"default_tier": "Tiny"},
        "application": {},
    }
    async with serve(EchoUpstream()) as port:
        path = write(tmp_path, throttle, port, **CONSUMERS)
        async with running_gateway(path) as (base, _):
            # app-b: subscription Tiny (3/hour) refuses first, application Unlimited
            assert await statuses(base, 4, headers={"X-App": "app-b"}) == [200, 200, 200, 429]
            status, headers, body = await body_of(base, headers={"X-App": "app-b"})
            assert status == 429 and body["code"] == 900802 and body["level"] == "subscription"
            assert body["policy"] == "Tiny" and "nextAccessTime" in body
            assert int(headers["Retry-After"]) >= 1 and headers["X-RateLimit-Remaining"] == "0"
            # app-a: subscription Big, application Small (4/hour) refuses
            assert await statuses(base, 5, headers={"X-App": "app-a"}) == [200] * 4 + [429]
            status, _, body = await body_of(base, headers={"X-App": "app-a"})
            assert body["code"] == 900803 and body["level"] == "application" and body["policy"] == "Small"
            # a blocked application: 403 900805
            status, _, body = await body_of(base, headers={"X-App": "app-x"})
            assert status == 403 and body["code"] == 900805


async def test_allowed_responses_carry_ratelimit_headers(tmp_path):
    throttle = {"api": [{"name": "per-ip", "limit": ["5/hour", "100/day"], "per": "ip"}]}
    async with serve(EchoUpstream()) as port:
        async with running_gateway(write(tmp_path, throttle, port)) as (base, _):
            status, headers, _ = await body_of(base)
    assert status == 200
    assert headers["RateLimit-Policy"] == '"per-ip";q=5;w=3600'
    assert headers["RateLimit"].startswith('"per-ip";r=4;t=')
    assert headers["X-RateLimit-Limit"] == "5" and headers["X-RateLimit-Remaining"] == "4"
    assert 0 < int(headers["X-RateLimit-Reset"]) <= 3600


async def test_api_resource_conditions_backend_and_global(tmp_path):
    throttle = {
        "api": [
            {
                "name": "range",
                "limit": "2/hour",
                "per": "ip",
                "when": {"ip": ["127.0.0.0/8"], "header": {"X-Zone": "a"}},
            },
            {"name": "query", "limit": "1/hour", "when": {"query": {"bulk": "1"}}},
            {"name": "item", "limit": "3/hour", "resource": "GET /items/{id}"},
        ],
        "global": [{"name": "by-tenant-header", "limit": "8/hour", "per": "header:X-Tenant"}],
        "backend": {"limit": "12/hour"},
    }
    async with serve(EchoUpstream()) as port:
        async with running_gateway(write(tmp_path, throttle, port)) as (base, _):
            # level 3 with an IP-range + header condition
            assert await statuses(base, 3, headers={"X-Zone": "a", "X-Tenant": "t1"}) == [200, 200, 429]
            status, _, body = await body_of(base, headers={"X-Zone": "a"})
            assert body["code"] == 900800 and body["policy"] == "range"
            # the condition does not hold: not limited by it (nothing counted for the refused ones above)
            # query condition
            assert await statuses(base, 2, path="/svc/v1/x?bulk=1", headers={"X-Tenant": "t1"}) == [200, 429]
            # resource level
            assert await statuses(base, 4, path="/svc/v1/items/1", headers={"X-Tenant": "t2"}) == [200] * 3 + [429]
            status, _, body = await body_of(base, path="/svc/v1/items/2")
            assert body["level"] == "resource" and body["policy"] == "item"
            # global per tenant header: t1 has 2 + 1 accepted, 5 more pass, then 429 from level 5
            assert await statuses(base, 6, headers={"X-Tenant": "t1"}) == [200] * 5 + [429]
            status, _, body = await body_of(base, headers={"X-Tenant": "t1"})
            assert body["level"] == "global" and body["code"] == 900800
            # backend protection: 12/hour whoever calls (accepted so far: 2 + 1 + 3 + 5 = 11)
            assert await statuses(base, 2, headers={"X-Tenant": "t3"}) == [200, 429]
            status, _, body = await body_of(base, headers={"X-Tenant": "t4"})
            assert status == 429 and body["code"] == 900801 and body["level"] == "backend"


async def test_blocking_conditions(tmp_path):
    throttle = {"user_header": "X-User", "block": {"users": ["mallory"], "ips": ["10.0.0.0/8"]}}
    async with serve(EchoUpstream()) as port:
        async with running_gateway(write(tmp_path, throttle, port)) as (base, _):
            assert (await body_of(base, headers={"X-User": "alice"}))[0] == 200
            status, _, body = await body_of(base, headers={"X-User": "mallory"})
    assert status == 403 and body["code"] == 900805 and "mallory" in body["detail"]
    throttle = {"block": {"ips": ["127.0.0.1/32"]}}
    async with serve(EchoUpstream()) as port:
        async with running_gateway(write(tmp_path, throttle, port)) as (base, _):
            assert (await body_of(base))[0] == 403


async def test_bandwidth_quota(tmp_path):
    throttle = {"bandwidth": {"limit": "200KB/hour", "per": "ip"}}
    async with serve(EchoUpstream()) as port:
        async with running_gateway(write(tmp_path, throttle, port)) as (base, _):
            got = await statuses(base, 5, path="/svc/v1/bytes/100000")
            status, _, body = await body_of(base, path="/svc/v1/bytes/10")
    # counted after each response: 100 KB, 200 KB, then the quota is used up
    assert got == [200, 200, 429, 429, 429]
    assert status == 429 and body["level"] == "bandwidth"


async def test_concurrency_limit_per_backend(tmp_path):
    throttle = {"backend": {"max_in_flight": 3}}
    async with serve(EchoUpstream()) as port:
        async with running_gateway(write(tmp_path, throttle, port)) as (base, _):
            counts = await load([base + "/svc/v1/slow/300"], 10, concurrency=10)
            after = await statuses(base, 1, path="/svc/v1/slow/1")
    assert counts[200] == 3 and counts[429] == 7
    assert after == [200]  # slots are released


async def test_shadow_mode_counts_but_lets_through(tmp_path, caplog):
    throttle = {"enforce": False, "api": [{"name": "tiny", "limit": "1/hour"}]}
    async with serve(EchoUpstream()) as port:
        async with running_gateway(write(tmp_path, throttle, port)) as (base, app):
            assert await statuses(base, 3) == [200, 200, 200]
            store = next(v for k, v in app.services._items.items() if k.startswith("throttle:memory"))
    assert store.stats["shadow"] == 2


async def exact_one_node(tmp_path: Path, sections: dict[str, Any], prefix: str = "throttle") -> None:
    throttle: dict[str, Any] = {
        "key_prefix": prefix,
        "api": [{"name": "exact", "limit": "137/hour"}],
        "global": [{"name": "ip", "limit": "100000/hour"}],
        "backend": {"limit": "100000/hour"},
    }
    async with serve(EchoUpstream()) as port:
        async with running_gateway(write(tmp_path, throttle, port, **sections)) as (base, _):
            counts = await load([base + "/svc/v1/x"], 400, concurrency=40)
    assert counts == {200: 137, 429: 263}


async def test_exact_under_concurrent_load_one_node_memory(tmp_path):
    await exact_one_node(tmp_path, {})


async def test_exact_under_concurrent_load_one_node_redis(tmp_path, redis_prefix):
    await exact_one_node(tmp_path, {"storage": {"counters": "redis://127.0.0.1:6379/0"}}, redis_prefix)
