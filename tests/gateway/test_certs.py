"""`splp certs` output works as-is: a real mTLS handshake with the gateway, and a sealed key that opens."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest

from gateway.cli import main
from gateway.sealing import MasterKey
from tests.gateway.conftest import api, running_gateway
from tests.servers import EchoUpstream, serve

pytestmark = pytest.mark.anyio


async def test_certs_ca_server_client_handshake(tmp_path: Path, write_config, capsys, monkeypatch) -> None:
    pki = str(tmp_path / "pki")
    assert main(["certs", "ca", "--dir", pki]) == 0
    assert main(["certs", "server", "--dir", pki, "--name", "localhost", "--san", "127.0.0.1"]) == 0
    assert main(["certs", "client", "--dir", pki, "--name", "app-one", "--org", "Kominfo"]) == 0
    assert main(["certs", "client", "--dir", pki, "--name", "app-one"]) == 1  # never overwrites
    assert (tmp_path / "pki" / "app-one.key").stat().st_mode & 0o777 == 0o600
    out = capsys.readouterr().out
    assert "subject:      O=Kominfo,CN=app-one" in out

    monkeypatch.setenv("SPLP_MASTER_KEY_FILE", str(tmp_path / "master.key"))
    assert main(["certs", "seal", f"{pki}/app-one.key", "--owner", "backend:/x/v1"]) == 0
    sealed = capsys.readouterr().out.strip()
    key = MasterKey.load(tmp_path / "master.key")
    assert key.unseal(sealed, owner="backend:/x/v1") == (tmp_path / "pki" / "app-one.key").read_bytes()

    upstream = EchoUpstream()
    async with serve(upstream) as up:
        listen = {
            "host": "127.0.0.1",
            "tls": {"cert": f"{pki}/localhost.pem", "key": f"{pki}/localhost.key", "client_ca": [f"{pki}/ca.pem"]},
        }
        policy = {"mtls": {"require_application": True}}
        path = write_config(
            [api("m", [f"http://127.0.0.1:{up}"], policies=[policy])],
            gateway={"listen": listen},
            applications=[{"id": "app-one", "tenant": "test", "cert_subjects": ["O=Kominfo,CN=app-one"]}],
        )
        async with running_gateway(path) as (base, _):
            context = ssl.create_default_context(cafile=f"{pki}/ca.pem")
            context.load_cert_chain(f"{pki}/app-one.pem", f"{pki}/app-one.key")
            async with aiohttp.ClientSession() as client:
                url = base.replace("http://", "https://") + "/m/v1/echo"
                async with client.get(url, ssl=context) as response:
                    assert response.status == 200
                    assert (await response.json())["headers"]  # reached the backend
