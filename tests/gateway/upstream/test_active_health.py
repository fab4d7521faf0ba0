"""Active health checks: a probe that fails suspends the endpoint before any call finds it down, a probe
that passes brings it back; each probe is an analytics event of its own (probe: true), not a call."""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp

from tests.gateway.conftest import api, running_gateway
from tests.servers import EchoUpstream, free_port, serve


async def test_probes_suspend_and_recover_an_endpoint(write_config, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    events = tmp_path / "events.jsonl"
    dead_port = free_port()
    dead = f"http://127.0.0.1:{dead_port}"
    async with serve(EchoUpstream("live")) as port:
        live = f"http://127.0.0.1:{port}"
        backend = {"active_health": {"path": "/ping", "interval": "1s", "timeout": "500ms"}}
        path = write_config(
            [api("svc", [live, dead], backend=backend)],
            observability={"analytics": {"sinks": [{"type": "jsonl", "output": str(events)}]}},
        )
        async with running_gateway(path) as (base, app), aiohttp.ClientSession() as http:
            await asyncio.sleep(0.8)  # the first round of probes
            for _ in range(6):  # round-robin over two endpoints, but the dead one is already out
                async with http.get(f"{base}/svc/v1/x") as response:
                    assert response.status == 200
            async with serve(EchoUpstream("back"), port=dead_port):
                await asyncio.sleep(1.6)  # the next probe of the revived endpoint
                assert app.pipeline is not None
                await app.pipeline.flush()
    logged = [(r.fields["event"], r.fields["endpoint"]) for r in caplog.records if hasattr(r, "fields")]
    assert ("endpoint_suspended", dead) in logged and ("endpoint_recovered", dead) in logged
    assert not any(event == "backend_failure" for event, _ in logged)  # no call ever tried it
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    calls = [e for e in lines if "probe" not in e]
    probes = [e for e in lines if e.get("probe")]
    assert len(calls) == 6 and {e["destination"] for e in calls} == {live}
    assert {(p["destination"], p["backendFailureKind"]) for p in probes} >= {(dead, "refused"), (dead, ""), (live, "")}
