"""Audiences through a real gateway: an API naming the audiences it accepts (every key manager), an
application known to several key managers (a JWT issuer and the same IdP's introspection), and the
resident server's `aud` (RFC 9068) checked on the way in. External tokens are minted by joserfc."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt as pyjwt

from tests.keymanager.servers import IntrospectionServer, JwksServer, claims, mint
from tests.policies.auth.conftest import applications, call, gateway, resident, token
from tests.policies.auth.test_refusals import KEY, URL, expect, kc
from tests.servers import serve

SUBSCRIBED = [
    {"application": "app1", "api": "/kominfo/pegawai/v1"},
    {"application": "kc-app", "api": "/kominfo/pegawai/v1"},
]


def opaque(port: int) -> dict[str, Any]:
    return {
        "type": "introspection",
        "name": "kc-opaque",
        "url": f"http://127.0.0.1:{port}/introspect",
        "client_id": "gw",
        "client_secret": "gw-secret",
        "tenant": "bappenas",
    }


@contextlib.asynccontextmanager
async def idp(auth_config: Any, tmp_path: Any, **config: Any) -> AsyncIterator[tuple[Any, ...]]:
    """A gateway with the resident key manager, a JWT issuer `kc` and its introspection `kc-opaque`."""
    jwks, introspection = JwksServer(KEY), IntrospectionServer()
    async with serve(jwks) as jwks_port, serve(introspection) as introspection_port:
        jwks.port = jwks_port
        kms = [resident(tmp_path), kc(jwks_port, audience=[]), opaque(introspection_port)]
        config.setdefault("subscriptions", SUBSCRIBED)
        async with gateway(auth_config, key_managers=kms, **config) as (base, client, _, _):
            yield base, client, introspection


def opaque_answer(**extra: Any) -> dict[str, Any]:
    return {"active": True, "client_id": "kc-app", "exp": int(time.time()) + 60, "sub": "u1", **extra}


async def test_api_audience_applies_to_every_key_manager(auth_config, tmp_path):
    apps = applications(**{"kc-app": {"key_managers": ["kc", "kc-opaque"]}})
    auth = {"audience": ["pegawai-api"], "opaque_order": ["kc-opaque"]}
    async with idp(auth_config, tmp_path, auth=auth, apps=apps) as (base, client, introspection):
        expect(await call(client, base + URL, mint(KEY, claims(aud="splp"))), 401, 900901, "invalid_token", "aud")
        assert (await call(client, base + URL, mint(KEY, claims(aud=["splp", "pegawai-api"]))))[0] == 200
        introspection.tokens["o-other"] = opaque_answer(aud="splp")
        introspection.tokens["o-ours"] = opaque_answer(aud=["pegawai-api"])
        expect(await call(client, base + URL, "o-other"), 401, 900901, "invalid_token", "aud")
        assert (await call(client, base + URL, "o-ours"))[0] == 200
        _, answer = await token(client, base)  # resident: aud urn:splp:gateway, not pegawai-api
        expect(await call(client, base + URL, answer["access_token"]), 401, 900901, "invalid_token", "aud")


async def test_application_known_to_several_key_managers(auth_config, tmp_path):
    both = applications(**{"kc-app": {"key_managers": ["kc", "kc-opaque"]}})
    jwt_only = applications()
    async with idp(auth_config, tmp_path, apps=both, auth={"opaque_order": ["kc-opaque"]}) as (base, client, intro):
        intro.tokens["o1"] = opaque_answer()
        assert (await call(client, base + URL, mint(KEY, claims())))[0] == 200  # the IdP's JWT
        status, seen, _ = await call(client, base + URL, "o1")  # the same IdP's opaque token
        assert status == 200 and dict(seen["headers"])["x-consumer-application"] == "kc-app"
    async with idp(auth_config, tmp_path, apps=jwt_only, auth={"opaque_order": ["kc-opaque"]}) as (base, client, intro):
        intro.tokens["o1"] = opaque_answer()
        assert (await call(client, base + URL, mint(KEY, claims())))[0] == 200
        expect(await call(client, base + URL, "o1"), 403, 900908, detail="not registered with key manager kc-opaque")


async def test_resident_tokens_carry_aud_checked_on_the_way_in(auth_config, tmp_path):
    async with gateway(auth_config) as (base, client, _, _):
        _, answer = await token(client, base)
        claims_ = pyjwt.decode(answer["access_token"], options={"verify_signature": False})
        assert pyjwt.get_unverified_header(answer["access_token"])["typ"] == "at+jwt"
        assert claims_["aud"] == "urn:splp:gateway"
        assert (await call(client, base + URL, answer["access_token"]))[0] == 200
    # the same key file (a restart) with another configured audience: the old token is not for it
    kms = [resident(tmp_path, audience="https://gateway.example.go.id"), {"type": "apikey"}]
    async with gateway(auth_config, key_managers=kms) as (base, client, _, _):
        expect(await call(client, base + URL, answer["access_token"]), 401, 900901, "invalid_token", "audience")


async def test_subscribed_audience_names_the_apis_and_each_api_requires_its_own(auth_config, tmp_path):
    async with gateway(auth_config) as (base, client, _, _):
        _, before = await token(client, base)  # issued without the subscribed APIs in aud
    kms = [resident(tmp_path, subscribed_audience=True), {"type": "apikey"}]
    subscriptions = [*SUBSCRIBED, {"application": "app1", "api": "/other/v1"}]
    async with gateway(auth_config, key_managers=kms, subscriptions=subscriptions) as (base, client, _, _):
        _, answer = await token(client, base)
        aud = pyjwt.decode(answer["access_token"], options={"verify_signature": False})["aud"]
        assert aud == ["urn:splp:gateway", "/kominfo/pegawai/v1", "/other/v1"]
        assert (await call(client, base + URL, answer["access_token"]))[0] == 200
        expect(await call(client, base + URL, before["access_token"]), 401, 900901, "invalid_token", "aud")
