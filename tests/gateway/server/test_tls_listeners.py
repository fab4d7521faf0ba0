"""The control API listens on TLS the same way as the data plane (same ListenerTls block, same context factory)."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest
import trustme
import yaml

from gateway.config.load import load_config
from gateway.control.app import KEY_PATH_ENV
from gateway.server.run import ServeOptions, control_uvicorn_config
from tests.servers import free_port, serve

pytestmark = pytest.mark.anyio


async def test_control_api_serves_https(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_PATH_ENV, str(tmp_path / "control-key.pem"))
    monkeypatch.setenv("SPLP_ETL_STATE", str(tmp_path / "etl.sqlite"))
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(tmp_path / "server.pem")
    port = free_port()
    pem = str(tmp_path / "server.pem")
    path = tmp_path / "gateway.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "gateway": {"watch_config": False},
                "control": {"listen": {"host": "127.0.0.1", "port": port, "tls": {"cert": pem, "key": pem}}},
                "storage": {"catalog": f"sqlite:///{tmp_path}/catalog.db"},
            }
        )
    )
    config = control_uvicorn_config(load_config(path), ServeOptions(str(path), log_level="warning"))
    config.loop = "none"
    async with serve(None, config=config):
        context = ssl.create_default_context()
        ca.configure_trust(context)
        async with aiohttp.ClientSession() as client:
            async with client.get(f"https://127.0.0.1:{port}/api/v1/openapi.json", ssl=context) as response:
                assert response.status == 200
            with pytest.raises(aiohttp.ClientError):  # plain HTTP on a TLS listener gets no HTTP answer
                async with client.get(f"http://127.0.0.1:{port}/api/v1/openapi.json"):
                    pass
