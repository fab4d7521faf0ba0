"""`splp serve --role gateway|control|all` as operators run it: each role alone starts, reports readiness
and stops cleanly; on SIGTERM the data port's /_ready turns 503 while the node still serves."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.gateway.conftest import ROOT, SPLP, api, wait_ready
from tests.servers import EchoUpstream, free_port, serve
from tests.services import reachable


def write(tmp_path: Path, up_port: int, **gateway: Any) -> tuple[Path, int]:
    control_port = free_port()
    config = {
        "gateway": {"watch_config": False, **gateway},
        "control": {"listen": {"host": "127.0.0.1", "port": control_port}},
        "storage": {"catalog": f"sqlite:///{tmp_path}/catalog.db"},
        "apis": [api("svc", [f"http://127.0.0.1:{up_port}"])],
    }
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, control_port


def start(path: Path, role: str, port: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    args = ["serve", "--role", role, "--config", str(path), "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "SPLP_CONTROL_TOKEN_KEY": str(tmp_path / "control-key.pem")}
    return subprocess.Popen([*SPLP, *args, "--log-level", "warning"], cwd=ROOT, env=env)


async def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return await asyncio.to_thread(process.wait, 20)


@pytest.mark.parametrize("workers", [1, 2])
async def test_gateway_role_serves_without_control_and_drains_after_unready(tmp_path: Path, workers: int) -> None:
    limits = {"drain_delay": "1.5s", "graceful_timeout": "5s"}
    async with serve(EchoUpstream()) as up_port:
        path, control_port = write(tmp_path, up_port, workers=workers, limits=limits)
        port = free_port()
        process = start(path, "gateway", port, tmp_path)
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_ready(f"{base}/_ready", time.monotonic() + 30)
            assert not reachable("127.0.0.1", control_port), "the gateway role must not serve the control API"
            async with aiohttp.ClientSession() as client:
                async with client.get(f"{base}/svc/v1/echo") as response:
                    assert response.status == 200
                process.send_signal(signal.SIGTERM)
                # unready first, while calls are still served: the balancer stops sending before the drain
                # (with workers, uvicorn's supervisor passes the signal on within half a second)
                for _ in range(10):
                    await asyncio.sleep(0.1)
                    async with client.get(f"{base}/_ready") as response:
                        if response.status == 503:
                            assert (await response.json())["status"] == "draining"
                            break
                else:
                    raise AssertionError("/_ready did not turn 503 after SIGTERM")
                async with client.get(f"{base}/svc/v1/echo") as response:
                    assert response.status == 200
                assert process.poll() is None
            started = time.monotonic()
            assert await stop(process) == 0
            assert time.monotonic() - started < 5
        finally:
            if process.poll() is None:
                process.kill()


async def test_control_role_alone_reports_readiness_and_stops(tmp_path: Path) -> None:
    path, _ = write(tmp_path, free_port())
    port = free_port()  # --port names the control listener for this role
    process = start(path, "control", port, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(f"{base}/_ready", time.monotonic() + 30)
        async with aiohttp.ClientSession() as client:
            async with client.get(f"{base}/_ready") as response:
                assert await response.json() == {"status": "ready", "stores": {"catalog": "ok"}}
            async with client.get(f"{base}/_health") as response:
                assert response.status == 200
            async with client.get(f"{base}/api/v1/openapi.json") as response:
                assert response.status == 200
        assert await stop(process) == 0
    finally:
        if process.poll() is None:
            process.kill()


async def test_all_role_serves_both_and_exits_zero_on_sigterm(tmp_path: Path) -> None:
    async with serve(EchoUpstream()) as up_port:
        path, control_port = write(tmp_path, up_port)
        port = free_port()
        process = start(path, "all", port, tmp_path)
        try:
            await wait_ready(f"http://127.0.0.1:{port}/_ready", time.monotonic() + 30)
            await wait_ready(f"http://127.0.0.1:{control_port}/_ready", time.monotonic() + 30)
            assert await stop(process) == 0
            assert not reachable("127.0.0.1", port) and not reachable("127.0.0.1", control_port)
        finally:
            if process.poll() is None:
                process.kill()
