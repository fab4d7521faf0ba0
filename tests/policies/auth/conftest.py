"""A gateway with key managers, applications and subscriptions declared in conf, in front of an echo backend."""

from __future__ import annotations

import contextlib
from typing import Any

import aiohttp
import orjson
import pytest

from keymanager.hashing import hash_api_key, hash_secret
from tests.gateway.conftest import api, running_gateway, write_config  # noqa: F401 - fixture re-export
from tests.servers import EchoUpstream, serve

SECRET = "s3cret-of-app"
API_KEY = "k-0123456789abcdef0123456789abcdef"
FAST = {"n": 2**10}  # scrypt cost lowered for tests only; the stored format carries the parameters
APP_SECRET_HASH = hash_secret(SECRET, **FAST)
USER_PASSWORD_HASH = hash_secret("ani-password", **FAST)


def applications(**overrides: dict[str, Any]) -> list[dict[str, Any]]:
    apps = {
        "app1": {
            "id": "app1",
            "tenant": "kominfo",
            "client_secret_hash": APP_SECRET_HASH,
            "grant_types": ["client_credentials", "password", "refresh_token"],
            "scopes": ["pegawai:read", "pegawai:write"],
            "api_keys": [hash_api_key(API_KEY)],
        },
        "app2": {"id": "app2", "tenant": "kominfo", "client_secret_hash": APP_SECRET_HASH, "scopes": ["pegawai:read"]},
        "blocked-app": {
            "id": "blocked-app",
            "tenant": "kominfo",
            "client_secret_hash": APP_SECRET_HASH,
            "blocked": True,
        },
        "kc-app": {"id": "kc-app", "tenant": "bappenas", "key_managers": ["kc"]},
    }
    for name, change in overrides.items():
        apps[name] = {**apps[name], **change}
    return list(apps.values())


def resident(tmp_path, **extra: Any) -> dict[str, Any]:
    return {
        "type": "resident",
        "key_file": str(tmp_path / "keys.json"),
        "passphrase_env": "SPLP_TEST_UNSET_PASSPHRASE",
        "users": [
            {"username": "ani", "password_hash": USER_PASSWORD_HASH, "tenant": "kominfo", "scopes": ["pegawai:read"]},
            {"username": "budi", "password_hash": USER_PASSWORD_HASH, "tenant": "kominfo", "blocked": True},
        ],
        **extra,
    }


@pytest.fixture
def auth_config(write_config, tmp_path):  # noqa: F811
    """write(backend_port, auth={...}, key_managers=[...], subscriptions=[...], **api_extra) -> path"""

    def write(
        port: int, *, auth: dict[str, Any] | None = None, key_managers=None, subscriptions=None, apps=None, **extra
    ):
        definition = api(
            "pegawai",
            [f"http://127.0.0.1:{port}"],
            context="/kominfo/pegawai",
            resources=["GET /pegawai/{nip}", "POST /pegawai", "GET /open"],
            policies=[{"auth": auth or {}}],
            **extra,
        )
        kms = key_managers if key_managers is not None else [resident(tmp_path), {"type": "apikey"}]
        if apps is None:  # kc-app only where a key manager kc is declared (an undeclared name is a config error)
            declared = {km.get("name", km["type"]) for km in kms}
            apps = [app for app in applications() if set(app.get("key_managers", ["resident"])) <= declared]
        return write_config(
            [definition],
            key_managers=kms,
            applications=apps,
            subscriptions=subscriptions
            if subscriptions is not None
            else [
                {"application": "app1", "api": "/kominfo/pegawai/v1", "tier": "Gold"},
                {"application": "blocked-app", "api": "/kominfo/pegawai/v1"},
                {"application": "kc-app", "api": "/kominfo/pegawai/v1"},
            ],
        )

    return write


@contextlib.asynccontextmanager
async def gateway(auth_config, **config: Any):
    """(base URL, client session, echo upstream, GatewayApp) of a real gateway on loopback."""
    upstream = EchoUpstream()
    async with serve(upstream) as port:
        path = auth_config(port, **config)
        async with running_gateway(path) as (base, app), aiohttp.ClientSession() as client:
            yield base, client, upstream, app


def basic(client_id: str = "app1", secret: str = SECRET) -> str:
    return aiohttp.encode_basic_auth(client_id, secret)


async def token(client: aiohttp.ClientSession, base: str, **form: str) -> tuple[int, dict[str, Any]]:
    headers = {}
    if form.pop("basic", "yes") == "yes" and "client_secret" not in form:
        headers["Authorization"] = basic(form.pop("client_id", "app1"), form.pop("secret", SECRET))
    form.setdefault("grant_type", "client_credentials")
    async with client.post(f"{base}/oauth2/token", data=form, headers=headers) as response:
        return response.status, orjson.loads(await response.read())


async def call(client, url: str, bearer: str | None = None, **headers: str):
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    async with client.get(url, headers=headers) as response:
        body = await response.read()
        return response.status, (orjson.loads(body) if body else None), response.headers
