"""Throttling counters on the status listener's /metrics: refusals per level and policy, store errors, fallbacks."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from policies.throttle.metrics import families, storage_label
from policies.throttle.storage import CounterStore
from tests.gateway.conftest import running_gateway, serve_status
from tests.policies.throttle.test_levels import statuses, write
from tests.servers import EchoUpstream, serve


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_refusals_per_level_and_policy_on_metrics(tmp_path):
    throttle = {"api": [{"name": "tiny", "limit": "1/hour"}], "backend": {"limit": "100/hour"}}
    async with serve(EchoUpstream()) as port:
        async with running_gateway(write(tmp_path, throttle, port)) as (base, app), serve_status(app) as status:
            assert await statuses(base, 3) == [200, 429, 429]
            async with aiohttp.ClientSession() as client, client.get(status + "/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain; version=")
                text = await response.text()
    got = samples(text)
    labels = (("level", "api"), ("policy", "tiny"), ("storage", "memory://"))
    assert got[("splp_throttle_refused_total", labels)] == 2
    assert got[("splp_throttle_store_errors_total", (("storage", "memory://"),))] == 0
    assert got[("splp_throttle_store_down", (("storage", "memory://"),))] == 0
    assert any(name == "target_info" for name, _ in got)  # the worker's pid: each worker has its own counters


def test_store_counters_render_without_credentials():
    store = CounterStore("redis://:secret@127.0.0.1:1/0")
    store.refused["subscription", "Gold"] += 3
    store.shadowed["api", "trial"] += 1
    store.stats.update(redis_errors=4, outages=1, fallback_decisions=7)
    store.down = True
    rendered = {f.name: f for f in families(store)}
    storage = "redis://127.0.0.1:1/0"
    assert storage_label(store.uri) == storage and "secret" not in repr(list(rendered.values()))
    assert rendered["splp_throttle_refused"].samples[0].labels == {
        "storage": storage,
        "level": "subscription",
        "policy": "Gold",
    }
    assert rendered["splp_throttle_refused"].samples[0].value == 3
    assert rendered["splp_throttle_shadow_refusals"].samples[0].value == 1
    assert rendered["splp_throttle_store_errors"].samples[0].value == 4
    assert rendered["splp_throttle_store_outages"].samples[0].value == 1
    assert rendered["splp_throttle_fallback_decisions"].samples[0].value == 7
    assert rendered["splp_throttle_store_down"].samples[0].value == 1
