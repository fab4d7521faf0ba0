"""The consumer flow through a real running gateway: app in conf -> subscription -> POST /oauth2/token -> call."""

from __future__ import annotations

import orjson

from tests.policies.auth.conftest import API_KEY, SECRET, basic, call, gateway, token

URL = "/kominfo/pegawai/v1/pegawai/1990"


async def test_full_consumer_flow_client_credentials(auth_config):
    async with gateway(auth_config) as (base, client, upstream, _):
        status, answer = await token(client, base)
        assert status == 200, answer
        assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
        assert answer["scope"] == "pegawai:read pegawai:write" and "refresh_token" not in answer
        status, seen, headers = await call(client, base + URL, answer["access_token"])
        assert status == 200
        sent = dict(seen["headers"])
        assert sent["x-consumer-application"] == "app1" and sent["x-consumer-tenant"] == "kominfo"
        assert "authorization" not in sent  # the consumer's credentials never reach the backend


async def test_client_secret_post_and_scope_narrowing(auth_config):
    async with gateway(auth_config) as (base, client, _, _):
        status, answer = await token(
            client, base, basic="no", client_id="app1", client_secret=SECRET, scope="pegawai:read"
        )
        assert status == 200 and answer["scope"] == "pegawai:read"
        status, answer = await token(client, base, scope="admin")
        assert status == 400 and answer["error"] == "invalid_scope"


async def test_token_endpoint_refusals(auth_config):
    async with gateway(auth_config) as (base, client, _, _):
        status, answer = await token(client, base, secret="wrong")
        assert (status, answer["error"]) == (401, "invalid_client")
        status, answer = await token(client, base, client_id="nobody")
        assert (status, answer["error"]) == (401, "invalid_client")
        status, answer = await token(
            client, base, client_id="app2", grant_type="password", username="ani", password="x"
        )
        assert (status, answer["error"]) == (400, "unauthorized_client")
        status, answer = await token(client, base, grant_type="authorization_code")
        assert (status, answer["error"]) == (400, "unsupported_grant_type")
        status, answer = await token(client, base, client_id="blocked-app")
        assert (status, answer["error"]) == (401, "invalid_client")
        # both Basic and client_secret in the body: one method only
        async with client.post(
            f"{base}/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": "app1", "client_secret": SECRET},
            headers={"Authorization": "Basic YXBwMTpzM2NyZXQtb2YtYXBw"},
        ) as response:
            assert response.status == 400 and (await response.json())["error"] == "invalid_request"


async def test_password_and_refresh_grants(auth_config):
    async with gateway(auth_config) as (base, client, upstream, _):
        status, answer = await token(client, base, grant_type="password", username="ani", password="ani-password")
        assert status == 200 and answer["scope"] == "pegawai:read"  # app scopes & user scopes
        status, seen, _ = await call(client, base + URL, answer["access_token"])
        assert status == 200 and dict(seen["headers"])["x-consumer-subject"] == "ani"
        refresh = answer["refresh_token"]
        assert (await call(client, base + URL, refresh))[0] == 401  # a refresh token is no access token
        status, again = await token(client, base, grant_type="refresh_token", refresh_token=refresh)
        assert status == 200 and again["refresh_token"] != refresh
        status, reused = await token(client, base, grant_type="refresh_token", refresh_token=refresh)
        assert (status, reused["error"]) == (400, "invalid_grant")  # rotated: the old one is revoked
        status, answer = await token(client, base, grant_type="password", username="ani", password="nope")
        assert (status, answer["error"]) == (400, "invalid_grant")
        status, answer = await token(client, base, grant_type="password", username="budi", password="ani-password")
        assert (status, answer["error"]) == (400, "invalid_grant") and "blocked" in answer["error_description"]


async def test_discovery_jwks_introspection_and_revocation(auth_config):
    async with gateway(auth_config) as (base, client, _, _):
        async with client.get(f"{base}/.well-known/openid-configuration") as response:
            discovery = await response.json()
        assert discovery["token_endpoint"] == f"{base}/oauth2/token"
        async with client.get(discovery["jwks_uri"]) as response:
            jwks = await response.json()
        assert [k["kty"] for k in jwks["keys"]] == ["RSA"] and "d" not in jwks["keys"][0]
        _, answer = await token(client, base)
        access = answer["access_token"]
        assert (await call(client, base + URL, access))[0] == 200  # now cached
        async with client.post(
            f"{base}/oauth2/introspect", data={"token": access}, headers={"Authorization": basic()}
        ) as response:
            info = await response.json()
        assert info["active"] is True and info["client_id"] == "app1" and info["token_type"] == "access_token"
        async with client.post(
            f"{base}/oauth2/revoke", data={"token": access}, headers={"Authorization": basic()}
        ) as response:
            assert response.status == 200
        status, problem, headers = await call(client, base + URL, access)
        assert status == 401 and problem["code"] == 900904  # the cached entry went with the revocation
        assert 'error="invalid_token"' in headers["www-authenticate"]
        async with client.post(
            f"{base}/oauth2/introspect", data={"token": access}, headers={"Authorization": basic()}
        ) as response:
            assert await response.json() == {"active": False}
        async with client.post(f"{base}/oauth2/introspect", data={"token": access}) as response:
            assert response.status == 401  # introspection needs client authentication


async def test_api_key_in_header(auth_config):
    async with gateway(auth_config) as (base, client, _, _):
        status, seen, _ = await call(client, base + URL, apikey=API_KEY)
        assert status == 200 and dict(seen["headers"])["x-consumer-application"] == "app1"
        assert "apikey" not in dict(seen["headers"])
        status, problem, _ = await call(client, base + URL, apikey="wrong-key")
        assert status == 401 and problem["code"] == 900901


async def test_missing_credentials(auth_config):
    async with gateway(auth_config) as (base, client, _, _):
        status, problem, headers = await call(client, base + URL)
        assert status == 401 and problem["code"] == 900902
        assert headers["www-authenticate"] == 'Bearer realm="splp"'
        assert headers["content-type"] == "application/problem+json"
        # another scheme is no Bearer credential: a bare challenge, no error= (RFC 6750 3.1)
        status, problem, headers = await call(client, base + URL, Authorization="Basic YTpi")
        assert status == 401 and problem["code"] == 900902 and "error" not in problem
        assert headers["www-authenticate"] == 'Bearer realm="splp"'
        body = orjson.dumps(problem)
        assert b"request_id" in body
