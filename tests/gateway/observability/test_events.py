"""Analytics events from real calls: WSO2 field names, latency split, failures, policy notes, drops, metrics."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from gateway.observability.recorder import Recorder
from gateway.types import Receive, Scope, Send
from tests.gateway.conftest import api, running_gateway, serve_status
from tests.servers import EchoUpstream, free_port, serve


def events_of(path: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_event_fields_latency_split_and_errors(write_config, tmp_path):
    out = tmp_path / "events.jsonl"
    dead = f"http://127.0.0.1:{free_port()}"
    async with serve(EchoUpstream()) as port:
        path = write_config(
            [api("svc", [f"http://127.0.0.1:{port}"], resources=["GET /echo"]), api("down", [dead])],
            observability={"analytics": {"sinks": [{"type": "jsonl", "output": str(out)}]}},
        )
        async with running_gateway(path) as (base, app), aiohttp.ClientSession() as http:
            trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            for url in ("/svc/v1/echo", "/down/v1/x", "/svc/v1/missing"):
                async with http.get(base + url, headers={"traceparent": trace, "content-length": "0"}) as r:
                    await r.read()
            assert app.pipeline is not None
            # what a policy does during the call (h-media notes digests, h-tls the client certificate)
            app.pipeline.recorder.queue[0].scope["gateway"].note("request_digest", "sha-256=:x:")
            await app.pipeline.flush()
    ok, failed, missing = events_of(out)
    assert ok["request_digest"] == "sha-256=:x:" and "request_digest" not in failed
    assert ok["apiName"] == "svc" and ok["apiVersion"] == "v1" and ok["apiContext"] == "/svc/v1"
    assert ok["apiCreatorTenantDomain"] == "test" and ok["apiResourceTemplate"] == "/echo"
    assert ok["proxyResponseCode"] == ok["targetResponseCode"] == 200 and ok["apiMethod"] == "GET"
    assert ok["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736" and len(ok["correlationId"]) == 32
    assert ok["destination"] == f"http://127.0.0.1:{port}" and ok["responseSize"] > 0
    split = ok["requestMediationLatency"] + ok["backendLatency"] + ok["responseMediationLatency"]
    assert 0 < split <= ok["responseLatency"] and ok["gatewayLatency"] <= ok["responseLatency"]
    assert failed["proxyResponseCode"] == 502 and failed["targetResponseCode"] == 0
    assert failed["backendFailureKind"] == "refused" and failed["destination"] == dead
    assert failed["errorCode"] == 101503 and failed["errorType"] == "urn:splp:problem:backend-unreachable"
    assert missing["proxyResponseCode"] == 404 and missing["errorCode"] == 900906


async def test_a_full_queue_drops_and_counts_without_waiting():
    recorder = Recorder(queue_size=2)

    async def app(
        scope: Scope, receive: Receive, send: Send, request_id: bytes, host: bytes, cert_header: bytes | None
    ) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def sink(message: Any) -> None:
        return None

    async def nothing() -> Any:
        return {}

    for _ in range(5):
        await recorder.observe(app, {"path": "/x"}, nothing, sink, b"id", b"", None)
    assert (recorder.accepted, recorder.dropped, len(recorder.take())) == (2, 3, 2)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_on_the_status_listener_label_by_api_never_by_path(write_config, caplog):
    async with serve(EchoUpstream()) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"])])
        async with running_gateway(path) as (base, app), serve_status(app) as status:
            async with aiohttp.ClientSession() as http:
                for i in range(30):  # unique paths, known and unknown APIs
                    async with http.get(f"{base}/svc/v1/item/{i}") as r:
                        await r.read()
                    async with http.get(f"{base}/unknown{i}/v1/x") as r:
                        assert r.status == 404
                assert app.pipeline is not None
                await app.pipeline.flush()
                async with http.get(f"{status}/metrics") as r:
                    text = await r.text()
                async with http.get(f"{base}/_metrics") as r:
                    assert r.status == 404  # the data port no longer serves counters
                async with http.get(f"{status}/_ready") as r:
                    assert (await r.json())["status"] == "ready"
    got = samples(text)
    assert got[("splp_requests_total", (("api", "/svc/v1"), ("status", "2xx"), ("tenant", "-")))] == 30
    assert got[("splp_requests_total", (("api", "-"), ("status", "4xx"), ("tenant", "-")))] == 30
    assert {dict(labels).get("api") for name, labels in got if name.startswith("splp_request")} == {"/svc/v1", "-"}
    assert got[("splp_request_duration_seconds_count", (("api", "/svc/v1"),))] == 30
    assert got[("splp_analytics_events_total", (("outcome", "dropped"),))] == 0
    assert got[("splp_analytics_events_total", (("outcome", "flushed"),))] == 60


async def test_suspension_recovery_and_backend_failures_are_operator_events(write_config, caplog):
    caplog.set_level(logging.INFO)
    dead_port = free_port()
    backend = {"health": {"max_failures": 1, "cooldown": "50ms"}}
    path = write_config([api("flaky", [f"http://127.0.0.1:{dead_port}"], backend=backend)])
    async with running_gateway(path) as (base, app), aiohttp.ClientSession() as http:
        async with http.get(f"{base}/flaky/v1/x") as r:
            assert r.status == 502
        import asyncio

        await asyncio.sleep(0.1)
        async with serve(EchoUpstream(), port=dead_port):
            async with http.get(f"{base}/flaky/v1/x") as r:
                assert r.status == 200
    events = [r.fields["event"] for r in caplog.records if hasattr(r, "fields")]
    assert events[:3] == ["backend_failure", "endpoint_suspended", "endpoint_recovered"]
    failure = next(r for r in caplog.records if getattr(r, "fields", {}).get("event") == "backend_failure")
    assert failure.fields["cause"].startswith("cannot connect") and len(failure.request_id) == 32


def test_batched_histogram_equals_one_observe_per_value():
    from prometheus_client import CollectorRegistry, generate_latest

    from gateway.observability.metrics import CallMetrics

    values_ms = [0.4, 1.0, 2.6, 7.0, 7.0, 120.0, 999.0, 45_000.0]
    batched, single = CollectorRegistry(), CollectorRegistry()
    CallMetrics(batched).observe(
        {"apiContext": "/a/v1", "proxyResponseCode": 200, "responseLatency": ms} for ms in values_ms
    )
    reference = CallMetrics(single)
    for ms in values_ms:
        reference.latency.labels("/a/v1").observe(ms / 1000.0)
        reference.requests.labels("/a/v1", "2xx", "-").inc()

    def values(registry: CollectorRegistry) -> dict[Any, float]:
        got = samples(generate_latest(registry).decode())
        return {key: value for key, value in got.items() if not key[0].endswith("_created")}

    assert values(batched) == values(single)
    assert values(batched)[("splp_request_duration_seconds_bucket", (("api", "/a/v1"), ("le", "0.01")))] == 5
