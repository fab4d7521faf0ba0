"""With a resident key manager in gateway.yaml the control API's tokens are signed by its key ring:
they verify against the gateway's JWKS, and consumer tokens of the same ring are refused."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import jwt
import pytest

from gateway.config.consumers import ApplicationConfig
from gateway.config.keymanagers import ResidentConfig
from gateway.config.model import GatewayConfig, LoadedConfig
from gateway.control.app import create_control_app
from keymanager import keystore
from keymanager.resident import ResidentKeyManager
from tests.gateway.control.conftest import FAST, PASSWORD, Control, seed
from tests.servers import serve


@pytest.fixture
def resident_config(tmp_path: Path) -> ResidentConfig:
    return ResidentConfig.model_validate(
        {
            "type": "resident",
            "key_file": str(tmp_path / "keys.json"),
            "passphrase_env": "SPLP_TEST_UNSET",
            "algorithm": "ES256",
        }
    )


@pytest.fixture
async def control(store_uri: str, tmp_path: Path, resident_config: ResidentConfig) -> AsyncIterator[Control]:
    tenants, users = await seed(store_uri)
    config = LoadedConfig(path="test.yaml", gateway=GatewayConfig(key_managers=(resident_config,)), apis=())
    app = create_control_app(config, catalog_uri=store_uri, key_path=str(tmp_path / "unused.pem"), hasher=FAST)
    async with serve(app) as port, aiohttp.ClientSession() as http:
        yield Control(f"http://127.0.0.1:{port}/api/v1", http, tenants, users, tmp_path / "unused.pem")


async def test_tokens_come_from_the_resident_key_ring(control: Control, resident_config: ResidentConfig) -> None:
    status, body = await control.call("POST", "/auth/token", json={"username": "a_admin", "password": PASSWORD})
    assert status == 200
    token = body["access_token"]
    ring = keystore.load(resident_config)
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"], header["typ"]) == ("ES256", ring.active.kid, "at+jwt")
    jwks = jwt.PyJWKSet.from_dict(ring.jwks())  # what the gateway publishes at /.well-known/jwks.json
    claims = jwt.decode(token, jwks[header["kid"]].key, algorithms=["ES256"], audience="urn:splp:control-api")
    assert (claims["iss"], claims["sub"]) == (resident_config.issuer, control.users["a_admin"])
    assert not control.key_path.exists()  # no second key: the ring is the only one
    assert (await control.call("GET", "/myaccount/profile", token=token))[0] == 200


async def test_consumer_tokens_and_foreign_keys_are_refused(control: Control, resident_config: ResidentConfig) -> None:
    manager = ResidentKeyManager(resident_config)
    consumer = await manager.issue(
        ApplicationConfig(id="app1", tenant="bappenas"), frozenset(), None, with_refresh=False
    )
    status, body = await control.call("GET", "/myaccount/profile", token=consumer["access_token"])
    assert status == 401 and body["code"] == 900901

    status, good = await control.call("POST", "/auth/token", json={"username": "a_admin", "password": PASSWORD})
    claims = jwt.decode(good["access_token"], options={"verify_signature": False})
    from cryptography.hazmat.primitives.asymmetric import ec

    forged = jwt.encode(
        claims | {"exp": int(time.time()) + 600},
        ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256",
        headers={"kid": jwt.get_unverified_header(good["access_token"])["kid"], "typ": "at+jwt"},
    )
    assert (await control.call("GET", "/myaccount/profile", token=forged))[0] == 401
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"typ": "at+jwt"})
    assert (await control.call("GET", "/myaccount/profile", token=unsigned))[0] == 401
