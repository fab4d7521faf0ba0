"""100 MiB each way through a real `splp serve` process: its peak RSS must not grow with the body."""

from __future__ import annotations

import os

import aiohttp
import orjson
import pytest
import yaml

from tests.gateway.conftest import api, spawned_gateway
from tests.servers import EchoUpstream, serve

MIB = 1024 * 1024


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("client", ["lean", "aiohttp"])
async def test_100_mib_both_ways_in_bounded_memory(tmp_path, client):
    upstream = EchoUpstream()
    async with serve(upstream) as up_port:
        path = tmp_path / "gateway.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "gateway": {"watch_config": False},
                    "control": {"enabled": False},
                    "upstream": {"client": client},
                    "apis": [api("media", [f"http://127.0.0.1:{up_port}"], max_body_size="200MiB")],
                }
            )
        )
        async with spawned_gateway(path) as (root, process):
            base = f"{root}/media/v1"
            baseline = peak_rss_mib(process.pid)
            async with aiohttp.ClientSession() as session:

                async def body():
                    block = os.urandom(MIB)
                    for _ in range(100):
                        yield block

                async with session.post(f"{base}/echo", data=body()) as response:
                    seen = orjson.loads(await response.read())
                assert seen["size"] == 100 * MIB and seen["complete"]
                received = 0
                async with session.get(f"{base}/bytes/{100 * MIB}") as response:
                    async for chunk in response.content.iter_chunked(256 * 1024):
                        received += len(chunk)
                assert received == 100 * MIB
            grown = peak_rss_mib(process.pid) - baseline
            assert grown < 40, f"gateway peak RSS grew by {grown:.1f} MiB while streaming 200 MiB"
