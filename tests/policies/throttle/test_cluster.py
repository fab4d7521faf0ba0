"""Two `splp serve` processes sharing Redis; one with a skewed clock. Redis stopped and started mid-run."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.gateway.conftest import running_gateway, spawned_gateway
from tests.policies.throttle.conftest import load, redis_server
from tests.servers import EchoUpstream, free_port, serve

SKEW = """import os, time
_skew = float(os.environ.get("SPLP_TEST_CLOCK_SKEW", "0"))
if _skew:
    _real = time.time
    time.time = lambda: _real() + _skew
"""


def gateway_yaml(path: Path, upstream: int, counters: str, apis: list[tuple[str, dict[str, Any]]]) -> Path:
    data = {
        "gateway": {"watch_config": False},
        "control": {"enabled": False},
        "storage": {"counters": counters},
        "apis": [
            {
                "name": name,
                "context": f"/{name}",
                "version": "v1",
                "tenant": "t",
                "backend": {"endpoints": [f"http://127.0.0.1:{upstream}"]},
                "policies": [{"throttle": throttle}],
            }
            for name, throttle in apis
        ],
    }
    path.write_text(yaml.safe_dump(data))
    return path


async def test_two_nodes_one_skewed_clock_stay_exact(tmp_path, redis_prefix, monkeypatch):
    """Node B's clock is one window (1 h) ahead: with node clocks the nodes would count in different windows."""
    limit = 300
    apis = [
        (
            strategy.split("-")[0],
            {"key_prefix": redis_prefix, "strategy": strategy, "api": [{"name": "shared", "limit": f"{limit}/hour"}]},
        )
        for strategy in ("fixed-window", "sliding-window", "moving-window")
    ]
    skew_dir = tmp_path / "skew"
    skew_dir.mkdir()
    (skew_dir / "sitecustomize.py").write_text(SKEW)
    async with serve(EchoUpstream()) as port:
        config = gateway_yaml(tmp_path / "gateway.yaml", port, "redis://127.0.0.1:6379/0", apis)
        async with spawned_gateway(config) as (node_a, _):
            monkeypatch.setenv("PYTHONPATH", str(skew_dir))
            monkeypatch.setenv("SPLP_TEST_CLOCK_SKEW", "3600")
            async with spawned_gateway(config) as (node_b, _):
                monkeypatch.delenv("SPLP_TEST_CLOCK_SKEW")
                results = await asyncio.gather(
                    *(load([f"{node_a}/{name}/v1/x", f"{node_b}/{name}/v1/x"], 800, 40) for name, _ in apis)
                )
    for (name, _), counts in zip(apis, results, strict=True):
        assert counts == {200: limit, 429: 800 - limit}, (name, counts)


async def test_redis_stopped_and_started_during_a_run(tmp_path, caplog):
    """Redis dies under a running gateway: local per-node share (on_error: local), 503 for a closed limit,
    never a 500; when Redis returns, shared counting resumes. Logged and counted."""
    redis_port = free_port()
    throttle = {"cluster_nodes": 2, "api": [{"name": "guarded", "limit": "40/hour"}]}
    closed = {"api": [{"name": "strict", "limit": "1000/hour", "on_error": "closed"}]}
    async with serve(EchoUpstream()) as port:
        config = gateway_yaml(
            tmp_path / "gateway.yaml",
            port,
            f"redis://127.0.0.1:{redis_port}/0",
            [("open", throttle), ("closed", closed)],
        )
        async with running_gateway(config) as (base, app):
            with redis_server(redis_port):
                assert await load([f"{base}/open/v1/x"], 10) == {200: 10}
                assert await load([f"{base}/closed/v1/x"], 2) == {200: 2}
            # Redis is stopped: this node keeps its share, ceil(40 / 2) = 20, from the local fallback
            down = await load([f"{base}/open/v1/x"], 30)
            closed_down = await load([f"{base}/closed/v1/x"], 3)
            store = next(v for k, v in app.services._items.items() if k.startswith("throttle:redis"))
            assert down == {200: 20, 429: 10}
            assert closed_down == {503: 3}
            assert store.down and store.stats["outages"] == 1 and store.stats["redis_errors"] >= 1
            with redis_server(redis_port):
                await asyncio.sleep(1.1)  # the circuit lets one request probe after retry_interval (1 s)
                # one request probes (while it does, others are answered by the fallback), then Redis counts again
                assert await load([f"{base}/open/v1/x"], 1) == {200: 1}
                assert not store.down and store.stats["recoveries"] == 1
                back = await load([f"{base}/open/v1/x"], 50)
                # this Redis started empty (no persistence): the full quota, 1 already used by the probe
                assert back == {200: 39, 429: 11}
                assert await load([f"{base}/closed/v1/x"], 2) == {200: 2}
    assert any("unreachable" in r.getMessage() for r in caplog.records)
    assert any("is back" in r.getMessage() for r in caplog.records)


async def test_tier_change_under_load_applies_at_once_and_keeps_other_counters(tmp_path):
    base_conf: dict[str, Any] = {
        "gateway": {"watch_config": False},
        "control": {"enabled": False},
        "tiers": {
            "subscription": {
                "Big": {"requests": "100000/hour"},
                "Ten": {"requests": "10/hour"},
                "Tiny": {"requests": "20/hour"},
            }
        },
        "applications": [{"id": "a", "tenant": "t"}, {"id": "b", "tenant": "t"}],
        "subscriptions": [
            {"application": "a", "api": "/svc/v1", "tier": "Big"},
            {"application": "b", "api": "/svc/v1", "tier": "Ten"},
        ],
    }

    def write(port: int, tier_a: str) -> Path:
        conf = {
            **base_conf,
            "apis": [
                {
                    "name": "svc",
                    "context": "/svc",
                    "version": "v1",
                    "tenant": "t",
                    "backend": {"endpoints": [f"http://127.0.0.1:{port}"]},
                    "policies": [
                        {"throttle": {"application_header": "X-App", "subscription": {"default_tier": "Ten"}}}
                    ],
                }
            ],
        }
        conf["subscriptions"] = [{**s, "tier": tier_a} if s["application"] == "a" else s for s in conf["subscriptions"]]
        path = tmp_path / "gateway.yaml"
        path.write_text(yaml.safe_dump(conf))
        return path

    async with serve(EchoUpstream()) as port:
        path = write(port, "Big")
        async with running_gateway(path) as (base, app):
            assert await load([f"{base}/svc/v1/x"], 5, 1, headers={"X-App": "b"}) == {200: 5}
            seen: list[tuple[float, int]] = []
            stop = asyncio.Event()

            async def traffic() -> None:
                async with aiohttp.ClientSession() as client:
                    while not stop.is_set():
                        async with client.get(f"{base}/svc/v1/x", headers={"X-App": "a"}) as response:
                            await response.read()
                            seen.append((time.monotonic(), response.status))

            tasks = [asyncio.create_task(traffic()) for _ in range(8)]
            await asyncio.sleep(0.5)
            write(port, "Tiny")
            assert await app.reloader.reload()
            changed_at = time.monotonic()
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*tasks)
            after_b = await load([f"{base}/svc/v1/x"], 10, 1, headers={"X-App": "b"})
    before = Counter(status for at, status in seen if at < changed_at)
    late = Counter(status for at, status in seen if at > changed_at + 0.05)  # in flight at the swap may finish old
    assert before[200] > 20 and before[429] == 0
    assert late[200] == 0 and late[429] > 10  # a's count (> 20) is already past Tiny's 20/hour
    assert after_b == {200: 5, 429: 5}  # b's tier did not change: its 5 earlier requests still count
