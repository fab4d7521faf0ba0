"""The resident OAuth2 server against external clients, over real sockets: Authlib's OAuth2Session (both
client authentication methods, introspection, revocation) and PyJWT's PyJWKClient reading the JWKS named by
discovery and checking `typ` at+jwt and `aud` (RFC 9068). The clients run in threads (they are blocking)."""

from __future__ import annotations

import asyncio
from typing import Any

import jwt as pyjwt
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.policies.auth.conftest import SECRET, call, gateway, resident
from tests.policies.auth.test_refusals import URL, expect


def discover(base: str) -> dict[str, Any]:
    answer = requests.get(f"{base}/.well-known/openid-configuration", timeout=5)
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]  # requests types json() as Any


def oauth_round(meta: dict[str, Any], method: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(token, introspection before revoking, introspection after) with one client authentication method."""
    with OAuth2Session("app1", SECRET, token_endpoint_auth_method=method, scope="pegawai:read") as session:
        token = session.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
        access = token["access_token"]
        before = session.introspect_token(meta["introspection_endpoint"], token=access).json()
        session.revoke_token(meta["revocation_endpoint"], token=access).raise_for_status()
        after = session.introspect_token(meta["introspection_endpoint"], token=access).json()
    return dict(token), before, after


def verified(meta: dict[str, Any], access: str) -> dict[str, Any]:
    signing_key = pyjwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(access)
    return pyjwt.decode(  # type: ignore[no-any-return]
        access,
        signing_key.key,
        algorithms=["RS256"],
        audience="/kominfo/pegawai/v1",
        issuer=meta["issuer"],
        options={"require": ["exp", "iat", "aud", "iss", "sub", "jti"]},
    )


async def test_authlib_and_pyjwkclient_against_discovery(auth_config, tmp_path):
    kms = [resident(tmp_path, subscribed_audience=True), {"type": "apikey"}]
    async with gateway(auth_config, key_managers=kms) as (base, client, _, _):
        meta = await asyncio.to_thread(discover, base)
        for method in ("client_secret_basic", "client_secret_post"):
            token, before, after = await asyncio.to_thread(oauth_round, meta, method)
            access = token["access_token"]
            assert pyjwt.get_unverified_header(access)["typ"] == "at+jwt"
            claims = await asyncio.to_thread(verified, meta, access)
            assert claims["client_id"] == "app1" and "urn:splp:gateway" in claims["aud"]
            assert before["active"] is True and before["aud"] == claims["aud"]
            assert after == {"active": False}
            expect(await call(client, base + URL, access), 401, 900904, "invalid_token", "revoked")
        refused = await asyncio.to_thread(
            requests.post, meta["token_endpoint"], data={"grant_type": "client_credentials"}, auth=("app1", "x")
        )
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
