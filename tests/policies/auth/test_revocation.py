"""Revocation reaches every node: two gateways (two WorkerResources, as two machines) share the key file and Redis."""

from __future__ import annotations

import asyncio

import aiohttp

from keymanager.registry import key_managers
from tests.gateway.conftest import running_gateway
from tests.policies.auth.conftest import basic, call, token
from tests.servers import EchoUpstream, serve
from tests.services import require_service

URL = "/kominfo/pegawai/v1/pegawai/1990"


async def test_revocation_on_one_node_evicts_the_cached_token_on_another(auth_config, tmp_path):
    host, port = require_service("redis")
    async with serve(EchoUpstream()) as backend:
        path = auth_config(backend)
        text = path.read_text()
        path.write_text(text + f"storage: {{counters: 'redis://{host}:{port}/0'}}\n")
        async with (
            running_gateway(path) as (node_a, _),
            running_gateway(path) as (node_b, app_b),
            aiohttp.ClientSession() as client,
        ):
            _, answer = await token(client, node_a)
            access = answer["access_token"]
            assert (await call(client, node_b + URL, access))[0] == 200  # validated and cached on B
            bus = key_managers(app_b.services).bus
            await asyncio.wait_for(bus.ready.wait(), 5)
            async with client.post(
                f"{node_a}/oauth2/revoke", data={"token": access}, headers={"Authorization": basic()}
            ) as response:
                assert response.status == 200
            for _ in range(100):
                status = (await call(client, node_b + URL, access))[0]
                if status == 401:
                    break
                await asyncio.sleep(0.02)
            assert status == 401
