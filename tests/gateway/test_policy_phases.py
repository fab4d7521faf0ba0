"""The policy contract's response and log phases, and out-of-tree policies found through the
`splp.policies` entry-point group: a real installed-style distribution (dist-info on PYTHONPATH), a
spawned `splp serve`, and `splp chain` naming where each policy came from."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

import aiohttp
import yaml

from tests.gateway.conftest import ROOT, SPLP, api, spawned_gateway
from tests.servers import EchoUpstream, serve

PLUGIN = '''
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class StampConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str = Field("stamped", description="Value of the X-Stamp response header.")


class StampPolicy:
    """Response phase from the request phase, a status-dependent response hook, and a log-phase field."""

    NAME: ClassVar[str] = "stamp"
    PRIORITY: ClassVar[int] = 950
    Config: ClassVar[type[BaseModel]] = StampConfig

    def __init__(self, app: Any, config: StampConfig, *, deps: Any) -> None:
        self.app = app
        self.label = config.label.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        ctx = scope["gateway"]
        ctx.add_response_header(b"X-Stamp", self.label)
        ctx.remove_response_header(b"X-Upstream")
        await self.app(scope, receive, send)

    def on_response(self, ctx: Any, status: int, headers: list) -> None:
        headers.append((b"x-backend-status", str(status).encode()))

    def on_log(self, ctx: Any, event: dict) -> None:
        event["stampLabel"] = self.label.decode()


class Broken:
    NAME = "other-name"
'''


def install_plugin(folder: Path) -> None:
    """What `pip install` leaves behind: the module and a dist-info with entry_points.txt."""
    (folder / "splp_stamp.py").write_text(PLUGIN)
    dist = folder / "splp_stamp-1.2.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: splp-stamp\nVersion: 1.2\n")
    (dist / "entry_points.txt").write_text(
        "[splp.policies]\nstamp = splp_stamp:StampPolicy\nbroken = splp_stamp:Broken\nheaders = splp_stamp:Broken\n"
    )


def gateway_yaml(path: Path, port: int, events: Path) -> Path:
    data = {
        "gateway": {"watch_config": False},
        "control": {"enabled": False},
        "observability": {
            "status": {"port": 0},
            "access_log": {"enabled": False},
            "analytics": {"flush_interval": "100ms", "sinks": [{"type": "jsonl", "output": str(events)}]},
        },
        "apis": [api("svc", [f"http://127.0.0.1:{port}"], policies=[{"stamp": {"label": "ok"}}, {"cors": {}}])],
    }
    path.write_text(yaml.safe_dump(data))
    return path


class TaggingUpstream(EchoUpstream):
    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        async def tagged(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-upstream", b"internal-host-7")]
            await send(message)

        await super().__call__(scope, receive, tagged)


async def test_an_installed_policy_runs_its_response_and_log_phases(tmp_path, monkeypatch):
    plugins = tmp_path / "site"
    plugins.mkdir()
    install_plugin(plugins)
    monkeypatch.setenv("PYTHONPATH", f"{plugins}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    events = tmp_path / "events.jsonl"
    async with serve(TaggingUpstream()) as port:
        config = gateway_yaml(tmp_path / "gateway.yaml", port, events)
        chain = subprocess.run(  # noqa: ASYNC221 - a short CLI run
            [*SPLP, "chain", str(config)], cwd=ROOT, capture_output=True, text=True, check=True
        )
        async with spawned_gateway(config) as (base, _), aiohttp.ClientSession() as http:
            async with http.get(f"{base}/svc/v1/echo") as response:
                assert response.status == 200
                assert response.headers["X-Stamp"] == "ok"
                assert response.headers["X-Backend-Status"] == "200"
                assert "X-Upstream" not in response.headers
            deadline = time.monotonic() + 10
            while not events.exists() or not events.read_text().strip():
                assert time.monotonic() < deadline, "no analytics event flushed"
                await asyncio.sleep(0.1)
    (event,) = [json.loads(line) for line in events.read_text().splitlines()]
    assert event["stampLabel"] == "ok"
    assert set(event["policyLatency"]) == {"cors", "stamp", "stamp.log"}
    lines = chain.stdout.splitlines()
    assert "    950  stamp  [entry point splp_stamp:StampPolicy (splp-stamp 1.2)]" in lines
    assert "   2800  cors  [built-in]" in lines
    # the broken class and the attempt to take over a built-in name are refused with a reason, not loaded
    assert "policy 'broken' from entry point splp_stamp:Broken (splp-stamp 1.2) refused: NAME is" in chain.stderr
    assert "policy 'headers' from entry point splp_stamp:Broken (splp-stamp 1.2) ignored" in chain.stderr


def test_the_contract_check_names_what_is_missing():
    from policies.discover import contract_problem

    class NoConfig:
        NAME = "x"
        PRIORITY = 1

    assert contract_problem("x", NoConfig) == "Config is not a pydantic model"
    assert contract_problem("y", NoConfig).startswith("NAME is 'x', expected 'y'")  # type: ignore[union-attr]
    assert contract_problem("x", object()) == "is not a class"
