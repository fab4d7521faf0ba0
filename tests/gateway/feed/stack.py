"""The whole stack on loopback for end-to-end tests: a seeded catalog, the control API over it, a
gateway following it (storage.serve_catalog) and an echo backend."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from gateway.config.load import load_config
from gateway.control.app import create_control_app
from tests.gateway.conftest import running_gateway
from tests.gateway.control.conftest import FAST, Control, seed
from tests.servers import EchoUpstream, serve


@dataclass
class Stack:
    control: Control
    gateway: str  # base URL
    backend: str  # base URL of the echo backend
    upstream: EchoUpstream
    http: aiohttp.ClientSession


@contextlib.asynccontextmanager
async def running_stack(store_uri: str, gateway_path: Path, tmp_path: Path, name: str) -> AsyncIterator[Stack]:
    """`gateway_path` must point storage.catalog at `store_uri` with serve_catalog: true."""
    tenants, _ = await seed(store_uri)
    key = tmp_path / "control.pem"
    control_app = create_control_app(load_config(gateway_path), catalog_uri=store_uri, key_path=str(key), hasher=FAST)
    upstream = EchoUpstream(name)
    async with (
        serve(upstream) as up,
        serve(control_app) as control_port,
        running_gateway(gateway_path) as (gw, _),
        aiohttp.ClientSession() as http,
    ):
        control = Control(f"http://127.0.0.1:{control_port}/api/v1", http, tenants, {}, key)
        yield Stack(control, gw, f"http://127.0.0.1:{up}", upstream, http)
