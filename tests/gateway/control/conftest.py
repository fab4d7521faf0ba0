"""A running control API on loopback over a seeded catalog, on SQLite and on PostgreSQL.

Tenants: kominfo (national) -> bappenas (ministry) -> bappenas-pusdatin (unit); kominfo -> kemenkes.
Users (password PASSWORD): root (super_admin, kominfo); a_admin, a_pub, a_aud, a_dev (bappenas);
u_admin (bappenas-pusdatin); b_admin, b_pub (kemenkes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.catalog.audit import Actor
from gateway.catalog.models import Role, TenantCreate
from gateway.catalog.passwords import PasswordHasher
from gateway.catalog.store import open_store
from gateway.config.model import GatewayConfig, LoadedConfig
from gateway.control.app import create_control_app
from tests.gateway.catalog.backends import pg_module_database, store_uri  # noqa: F401 - fixtures
from tests.servers import serve

PASSWORD = "correct horse battery"
FAST = PasswordHasher(n=2**10)  # real scrypt, cheap enough for many sign-ins
SYSTEM = Actor.system("test")

USERS = {
    "root": ("nat", Role.SUPER_ADMIN),
    "a_admin": ("a", Role.TENANT_ADMIN),
    "a_pub": ("a", Role.PUBLISHER),
    "a_aud": ("a", Role.AUDITOR),
    "a_dev": ("a", Role.SUBSCRIBER),
    "u_admin": ("unit", Role.TENANT_ADMIN),
    "b_admin": ("b", Role.TENANT_ADMIN),
    "b_pub": ("b", Role.PUBLISHER),
}


@dataclass
class Control:
    base: str
    http: aiohttp.ClientSession
    tenants: dict[str, str]
    users: dict[str, str]
    key_path: Path
    tokens: dict[str, str] = field(default_factory=dict)

    async def token(self, username: str, password: str = PASSWORD) -> str:
        if username not in self.tokens:
            status, body = await self.call("POST", "/auth/token", json={"username": username, "password": password})
            assert status == 200, body
            self.tokens[username] = body["access_token"]
        return self.tokens[username]

    async def call(
        self, method: str, path: str, *, as_user: str | None = None, token: str | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        headers = dict(kwargs.pop("headers", {}))
        if as_user is not None:
            token = await self.token(as_user)
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        async with self.http.request(method, self.base + path, headers=headers, **kwargs) as response:
            raw = await response.read()
            if response.content_type in ("application/json", "application/problem+json") and raw:
                import orjson

                return response.status, orjson.loads(raw)
            return response.status, raw


async def seed(uri: str) -> tuple[dict[str, str], dict[str, str]]:
    store = await open_store(uri)
    try:
        t = store.tenants
        nat = await t.create(SYSTEM, TenantCreate(slug="kominfo", name="Kominfo", kind="national"))
        a = await t.create(SYSTEM, TenantCreate(slug="bappenas", name="Bappenas", kind="ministry", parent_id=nat.id))
        unit = await t.create(
            SYSTEM, TenantCreate(slug="bappenas-pusdatin", name="Pusdatin", kind="unit", parent_id=a.id)
        )
        b = await t.create(SYSTEM, TenantCreate(slug="kemenkes", name="Kemenkes", kind="ministry", parent_id=nat.id))
        tenants = {"nat": nat.id, "a": a.id, "unit": unit.id, "b": b.id}
        password_hash = FAST.hash(PASSWORD)
        users = {}
        for username, (tenant, role) in USERS.items():
            user = await store.users.create(
                SYSTEM, tenant_id=tenants[tenant], username=username, role=role, password_hash=password_hash
            )
            users[username] = user.id
        return tenants, users
    finally:
        await store.close()


def loaded_config() -> LoadedConfig:
    return LoadedConfig(path="test.yaml", gateway=GatewayConfig(), apis=())


@pytest.fixture
async def control(store_uri: str, tmp_path: Path) -> AsyncIterator[Control]:  # noqa: F811
    tenants, users = await seed(store_uri)
    key_path = tmp_path / "keys" / "control.pem"
    app = create_control_app(loaded_config(), catalog_uri=store_uri, key_path=str(key_path), hasher=FAST)
    async with serve(app) as port, aiohttp.ClientSession() as http:
        yield Control(f"http://127.0.0.1:{port}/api/v1", http, tenants, users, key_path)
