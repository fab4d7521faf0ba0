"""`key_managers` of an application through the control API: stored (migration 8), returned, checked
against the key managers gateway.yaml declares, and exported to gateways as ApplicationConfig."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gateway.catalog.export import consumer_configs
from gateway.config.model import GatewayConfig, LoadedConfig
from gateway.control.app import create_control_app
from tests.gateway.config.test_application_key_managers import KMS
from tests.gateway.control.conftest import FAST, Control, seed
from tests.gateway.control.consumers import catalog, new_app
from tests.servers import serve


@pytest.fixture
async def control_with_kms(store_uri: str, tmp_path: Path) -> AsyncIterator[Control]:
    tenants, users = await seed(store_uri)
    config = LoadedConfig(path="test.yaml", gateway=GatewayConfig.model_validate({"key_managers": KMS}), apis=())
    key_path = tmp_path / "keys" / "control.pem"
    app = create_control_app(config, catalog_uri=store_uri, key_path=str(key_path), hasher=FAST)
    async with serve(app) as port, aiohttp.ClientSession() as http:
        yield Control(f"http://127.0.0.1:{port}/api/v1", http, tenants, users, key_path)


async def test_key_managers_stored_checked_and_exported(control_with_kms: Control, store_uri: str) -> None:
    control = control_with_kms
    default = await new_app(control, "a_dev", name="Default")
    assert default["key_managers"] == ["resident"]
    both = await new_app(control, "a_dev", name="IdP", key_managers=["kc", "kc-opaque"])
    assert both["key_managers"] == ["kc", "kc-opaque"]
    status, problem = await control.call(
        "POST", "/applications", as_user="a_dev", json={"name": "X", "key_managers": ["kx"]}
    )
    assert status == 422 and problem["errors"][0]["loc"] == ["body", "key_managers"], problem
    assert "kc, kc-opaque" in problem["errors"][0]["msg"]
    path = f"/applications/{default['id']}"
    status, problem = await control.call("PUT", path, as_user="a_dev", json={"key_managers": []})
    assert status == 422, problem
    status, changed = await control.call("PUT", path, as_user="a_dev", json={"key_managers": ["kc-opaque", "kc"]})
    assert status == 200 and changed["key_managers"] == ["kc-opaque", "kc"]
    async with catalog(store_uri) as store:
        applications, _ = await consumer_configs(store)
    exported = {app.id: app.key_managers for app in applications}
    assert exported == {default["id"]: ("kc-opaque", "kc"), both["id"]: ("kc", "kc-opaque")}
