"""Fixtures for gateway tests: config files written per test, and a real gateway on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from gateway.app import GatewayApp
from gateway.config.load import load_config
from gateway.server.run import ServeOptions, gateway_uvicorn_config
from tests.servers import free_port, serve


def api(name: str, endpoints: list[Any], *, context: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "context": context or f"/{name}",
        "version": "v1",
        "tenant": "test",
        "backend": {"endpoints": endpoints, **extra.pop("backend", {})},
        **extra,
    }


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    def write(apis: list[dict[str, Any]], **sections: Any) -> Path:
        data: dict[str, Any] = {
            "gateway": {"watch_config": False, **sections.pop("gateway", {})},
            "control": {"enabled": False},
            "apis": apis,
            **sections,
        }
        # never the fixed status port 8100 in tests; keep access lines off the test output unless asked for
        observe = data.setdefault("observability", {})
        observe.setdefault("status", {}).setdefault("port", 0)
        observe.setdefault("access_log", {}).setdefault("enabled", False)
        path = tmp_path / "gateway.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return write


@contextlib.asynccontextmanager
async def running_gateway(config_path: Path) -> AsyncIterator[tuple[str, GatewayApp]]:
    """The real thing: GatewayApp behind uvicorn with the hardened protocol, on a free port."""
    config = load_config(config_path)
    app = GatewayApp(config)
    uv_config = gateway_uvicorn_config(config, ServeOptions(str(config_path), host="127.0.0.1", port=free_port()), app)
    uv_config.loop = "none"
    uv_config.log_level = "warning"
    async with serve(None, config=uv_config) as port:
        yield f"http://127.0.0.1:{port}", app


@contextlib.asynccontextmanager
async def serve_status(app: GatewayApp) -> AsyncIterator[str]:
    """The status listener (/_health, /_ready with details, /metrics) of a running gateway, on a free port."""
    from gateway.observability.status import StatusApp

    async with serve(StatusApp(app)) as port:
        yield f"http://127.0.0.1:{port}"


ROOT = Path(__file__).resolve().parents[2]
SPLP = [sys.executable, "-m", "gateway.cli"]


async def wait_ready(url: str, deadline: float) -> None:
    async with aiohttp.ClientSession() as client:
        while time.monotonic() < deadline:
            try:
                async with client.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never became ready")


@contextlib.asynccontextmanager
async def spawned_gateway(config_path: Path) -> AsyncIterator[tuple[str, subprocess.Popen[bytes]]]:
    """`splp serve` as an operator starts it, in its own process; yields (base URL, process) once ready."""
    port = free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - starting a process is instant; waits are off-loop
        [
            *SPLP,
            "serve",
            "--config",
            str(config_path),
            "--port",
            str(port),
            "--status-port",
            "0",
            "--host",
            "127.0.0.1",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(f"{base}/_ready", time.monotonic() + 30)
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
            await asyncio.to_thread(process.wait, 15)
