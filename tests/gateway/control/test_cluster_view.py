"""The control API's cluster view: the gateway nodes connected to the PostgreSQL catalog now, and the one
started with tiers that differ from its peers' is reported; a reload that brings it in line clears it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.control.app import create_control_app
from tests.gateway.conftest import running_gateway
from tests.gateway.control.conftest import FAST, PASSWORD, loaded_config, seed
from tests.gateway.feed.test_live_push import feed_config
from tests.servers import serve

GOLD = {"subscription": {"Gold": {"requests": "5000/minute"}}}
ODD = {"subscription": {"Gold": {"requests": "50/minute"}}}


async def view(http: aiohttp.ClientSession, base: str, token: str, nodes: int) -> dict[str, Any]:
    """The view once `nodes` nodes are connected (each opens its LISTEN connection as it starts)."""
    for _ in range(50):
        async with http.get(f"{base}/api/v1/cluster/nodes", headers={"authorization": f"Bearer {token}"}) as r:
            assert r.status == 200, await r.text()
            body: dict[str, Any] = await r.json()
        if len(body["nodes"]) == nodes:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {nodes} nodes: {body}")


@pytest.mark.postgres
@pytest.mark.parametrize("store_uri", ["postgres"], indirect=True)
async def test_a_node_whose_tiers_differ_is_reported(
    store_uri: str, write_config: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(store_uri)
    app = create_control_app(loaded_config(), catalog_uri=store_uri, key_path=str(tmp_path / "k.pem"), hasher=FAST)

    def node_config(tiers: dict[str, Any], name: str) -> Path:
        monkeypatch.setenv("SPLP_NODE", name)
        path = feed_config(write_config, store_uri)
        path.write_text(path.read_text() + f"tiers: {tiers}\n".replace("'", '"'))
        return path

    async with serve(app) as port, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{port}"
        async with http.post(f"{base}/api/v1/auth/token", json={"username": "root", "password": PASSWORD}) as r:
            token = (await r.json())["access_token"]
        async with (
            running_gateway(node_config(GOLD, "node-a")),
            running_gateway(node_config(GOLD, "node-b")),
            running_gateway(node_config(ODD, "node-odd")) as (_, odd),
        ):
            body = await view(http, base, token, 3)
            assert not body["consistent"]
            differs = {node["node"]: node["differs"] for node in body["nodes"]}
            assert differs == {"node-a": [], "node-b": [], "node-odd": ["tiers"]}
            assert {node["version"] for node in body["nodes"]} == {body["nodes"][0]["version"]}

            node_config(GOLD, "node-odd")  # the operator fixes its file and reloads it
            assert await odd.reloader.reload()
            for _ in range(50):
                body = await view(http, base, token, 3)
                if body["consistent"]:
                    break
                await asyncio.sleep(0.1)
            assert body["consistent"], body
        async with http.get(f"{base}/api/v1/cluster/nodes") as r:
            assert r.status == 401  # super admins only
