"""The catalog store goes away under the control API (PostgreSQL restarted, failover): callers get 503
store-unavailable with Retry-After, never a 500; /_ready reports it; once the store is back the control
API answers again by itself. The outage is a TCP relay cut, so the shared PostgreSQL stays up."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from gateway.control.app import create_control_app
from tests.faults import TcpRelay
from tests.gateway.control.conftest import FAST, PASSWORD, loaded_config, seed
from tests.servers import serve


@pytest.mark.postgres
@pytest.mark.parametrize("store_uri", ["postgres"], indirect=True)
async def test_store_outage_answers_503_with_retry_after_then_recovers(store_uri: str, tmp_path: Path) -> None:
    await seed(store_uri)
    parts = urlsplit(store_uri)
    relay = TcpRelay(parts.hostname or "127.0.0.1", parts.port or 5432)
    relayed = store_uri.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{await relay.start()}")
    app = create_control_app(loaded_config(), catalog_uri=relayed, key_path=str(tmp_path / "k.pem"), hasher=FAST)
    async with serve(app) as port, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{port}"
        async with http.post(f"{base}/api/v1/auth/token", json={"username": "root", "password": PASSWORD}) as r:
            auth = {"authorization": f"Bearer {(await r.json())['access_token']}"}

        async def tenants() -> tuple[int, str | None, dict[str, object]]:
            async with http.get(f"{base}/api/v1/tenants", headers=auth) as response:
                return response.status, response.headers.get("retry-after"), await response.json()

        assert (await tenants())[0] == 200
        await relay.cut()
        for _ in range(3):  # the pooled connection is dead, and new ones are refused
            status, retry_after, body = await tenants()
            assert status == 503, body
            assert body["code"] == 801503 and retry_after == "2"
        async with http.get(f"{base}/_ready") as response:
            ready = await response.json()
            assert response.status == 200 and ready["status"] == "degraded" and ready["stores"]["catalog"] != "ok"
        await relay.restore()
        for _ in range(50):
            if (await tenants())[0] == 200:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the control API did not recover once the store was back")
        async with http.get(f"{base}/_ready") as response:
            assert (await response.json())["status"] == "ready"
    await relay.cut()
