"""Several workers: prometheus_client multi-process mode, summed by the status listener's own process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

import aiohttp

from tests.gateway.conftest import ROOT, SPLP, api, wait_ready
from tests.gateway.observability.test_events import samples
from tests.servers import EchoUpstream, free_port, serve


async def test_metrics_of_all_workers_on_one_status_listener(write_config):
    async with serve(EchoUpstream()) as up:
        path = write_config(
            [api("svc", [f"http://127.0.0.1:{up}"])], observability={"analytics": {"flush_interval": "100ms"}}
        )
        port, status = free_port(), free_port()
        command = [*SPLP, "serve", "--config", str(path), "--host", "127.0.0.1", "--port", str(port),
                   "--status-port", str(status), "--workers", "2", "--log-level", "warning"]  # fmt: skip
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ})  # noqa: ASYNC220 - instant
        try:
            await wait_ready(f"http://127.0.0.1:{status}/_ready", time.monotonic() + 30)
            async with aiohttp.ClientSession() as http:
                for _ in range(40):  # new connections: the kernel spreads them over both workers
                    async with http.get(f"http://127.0.0.1:{port}/svc/v1/x", headers={"connection": "close"}) as r:
                        assert r.status == 200
                key = ("splp_requests_total", (("api", "/svc/v1"), ("status", "2xx"), ("tenant", "-")))
                deadline = time.monotonic() + 10
                while True:
                    async with http.get(f"http://127.0.0.1:{status}/metrics") as r:
                        got = samples(await r.text())
                    if got.get(key) == 40 or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.2)
                async with http.get(f"http://127.0.0.1:{status}/_ready") as r:
                    assert r.status == 200 and (await r.json())["status"] == "ready"
        finally:
            process.terminate()
            await asyncio.to_thread(process.wait, 15)
    assert got.get(key) == 40
