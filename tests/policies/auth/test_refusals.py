"""Every refusal path through a real gateway, with its exact status, WSO2 code and RFC 6750 error.

The external key manager `kc` reads a real JWKS server on loopback; its tokens are minted with joserfc.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time

from tests.keymanager.servers import (
    ISSUER,
    IntrospectionServer,
    JwksServer,
    b64,
    claims,
    mint,
    mint_hs256_with_public_pem,
    new_rsa,
)
from tests.policies.auth.conftest import call, gateway, resident, token
from tests.servers import serve

URL = "/kominfo/pegawai/v1/pegawai/1990"
KEY = new_rsa("k1")
OTHER = new_rsa("k2")


def kc(port: int, **extra):
    return {
        "type": "jwt",
        "name": "kc",
        "issuer": ISSUER,
        "jwks_url": f"http://127.0.0.1:{port}/jwks",
        "audience": ["splp"],
        "leeway": 0,
        "refetch_cooldown": 0.2,
        "tenant": "bappenas",
        **extra,
    }


@contextlib.asynccontextmanager
async def with_kc(auth_config, tmp_path, server: JwksServer | None = None, **config):
    server = server or JwksServer(KEY, OTHER)
    async with serve(server) as port:
        server.port = port
        kms = config.pop("key_managers", None) or [resident(tmp_path), kc(port)]
        async with gateway(auth_config, key_managers=kms, **config) as stack:
            yield (*stack, server)


def expect(result, status: int, code: int, error: str | None = None, detail: str | None = None):
    got_status, problem, headers = result
    assert (got_status, problem["code"]) == (status, code), problem
    if error:
        assert f'error="{error}"' in headers["www-authenticate"]
        assert problem["error"] == error
    elif status == 403:  # RFC 6750: only a missing scope is insufficient_scope; other 403s carry no challenge
        assert "www-authenticate" not in headers and "error" not in problem
    if detail:
        assert detail in problem["detail"], problem["detail"]


def header(alg="RS256", kid="k1", **extra) -> str:
    return b64(json.dumps({"alg": alg, "kid": kid, **extra}).encode())


async def test_external_token_accepted_and_cached(auth_config, tmp_path):
    async with with_kc(auth_config, tmp_path) as (base, client, _, _, server):
        good = mint(KEY, claims())
        for _ in range(3):
            status, seen, _ = await call(client, base + URL, good)
            assert status == 200
        assert dict(seen["headers"])["x-consumer-application"] == "kc-app"
        assert server.hits == 1


async def test_malformed_tokens(auth_config, tmp_path):
    good = mint(KEY, claims())
    head, body, sig = good.split(".")
    duplicate = mint(
        KEY,
        b'{"iss": "%s", "azp": "kc-app", "aud": "splp", "exp": %d, "azp": "app1"}'
        % (ISSUER.encode(), int(time.time()) + 60),
    )
    async with with_kc(auth_config, tmp_path) as (base, client, _, _, _):
        cases = [
            (good[: len(good) // 2], "invalid_token", None),  # truncated inside the payload
            (f"{head}.{body}", "invalid_token", "truncated"),  # signature part gone
            (f"{head}.{body}.{sig}" + "A" * 9000, "invalid_token", "longer than 8192 bytes"),  # huge
            (f"{head}.{body}!.{sig}", "invalid_token", "not base64url"),
            (f"{head}.{body}.{sig[:-3]}***", "invalid_token", "not base64url"),
            ("e30." + body + "." + sig, "invalid_token", "alg none"),  # {} header
            (duplicate, "invalid_token", "repeats the member 'azp'"),
            (f"{head}.{b64(b'[1,2]')}.{sig}", "invalid_token", "not a JSON object"),
        ]
        for bad, error, detail in cases:
            expect(await call(client, base + URL, bad), 401, 900901, error, detail)


async def test_signature_and_key_attacks(auth_config, tmp_path):
    async with with_kc(auth_config, tmp_path) as (base, client, _, _, _):
        payload = b64(json.dumps(claims()).encode())
        alg_none = f"{header(alg='none')}.{payload}."
        expect(await call(client, base + URL, alg_none), 401, 900901, "invalid_token", "alg none")
        alg_none_sig = f"{header(alg='none')}.{payload}.{b64(b'x')}"
        expect(await call(client, base + URL, alg_none_sig), 401, 900901, "invalid_token", "alg none")
        confused = mint_hs256_with_public_pem(KEY.as_pem(private=False), claims(), "k1")
        expect(await call(client, base + URL, confused), 401, 900901, "invalid_token", "HS256 is not accepted")
        unknown = mint(new_rsa("k-unknown"), claims())
        expect(await call(client, base + URL, unknown), 401, 900901, "invalid_token", "no key 'k-unknown'")
        wrong_key = mint(OTHER, claims(), kid="k1")  # right kid, other key
        expect(await call(client, base + URL, wrong_key), 401, 900901, "invalid_token", "signature does not verify")
        forged = mint(new_rsa("k1"), claims(), jku="http://127.0.0.1:9/keys")  # jku ignored
        expect(await call(client, base + URL, forged), 401, 900901, "invalid_token", "signature does not verify")


async def test_claim_refusals(auth_config, tmp_path):
    async with with_kc(auth_config, tmp_path) as (base, client, _, _, _):
        expired = mint(KEY, claims(exp=int(time.time()) - 1))
        expect(await call(client, base + URL, expired), 401, 900903, "invalid_token", "expired")
        audience = mint(KEY, claims(aud="another-gateway"))
        expect(await call(client, base + URL, audience), 401, 900901, "invalid_token", "audience")
        issuer = mint(KEY, claims(iss="https://unknown.example"))
        expect(await call(client, base + URL, issuer), 401, 900901, "invalid_token", "issuer is not accepted")


async def test_removed_key(auth_config, tmp_path):
    server = JwksServer(KEY, OTHER)
    async with with_kc(auth_config, tmp_path, server) as (base, client, _, app, _):
        old_token = mint(OTHER, claims())
        assert (await call(client, base + URL, mint(KEY, claims())))[0] == 200
        server.remove("k2")
        from keymanager.registry import key_managers

        await key_managers(app.services).for_config(app.holder.current.config.gateway).by_name["kc"].refresh()
        expect(await call(client, base + URL, old_token), 401, 900901, "invalid_token", "no key 'k2'")


async def test_unreachable_jwks_fails_closed(auth_config, tmp_path):
    server = JwksServer(KEY)
    server.down = True
    async with with_kc(auth_config, tmp_path, server) as (base, client, _, _, _):
        # no cached key can decide: 503
        expect(await call(client, base + URL, mint(KEY, claims())), 503, 900900)
        server.down = False
        await asyncio.sleep(0.25)  # the refetch cooldown
        assert (await call(client, base + URL, mint(KEY, claims(sub="a"))))[0] == 200
        server.down = True
        # cached keys decide while the JWKS is down: a good token passes, a bad one is 401, never 503
        assert (await call(client, base + URL, mint(KEY, claims(sub="b"))))[0] == 200
        expired = mint(KEY, claims(exp=int(time.time()) - 1))
        expect(await call(client, base + URL, expired), 401, 900903)
        await asyncio.sleep(0.25)
        expect(await call(client, base + URL, mint(new_rsa("k7"), claims())), 503, 900900)


async def test_authorization_refusals(auth_config, tmp_path):
    async with with_kc(
        auth_config,
        tmp_path,
        auth={"scopes": {"GET /pegawai/{nip}": ["pegawai:read"], "POST /pegawai": ["pegawai:write"]}},
        subscriptions=[
            {"application": "app1", "api": "/kominfo/pegawai/v1"},
            {"application": "app2", "api": "/kominfo/pegawai/v1", "status": "blocked"},
            {"application": "kc-app", "api": "/kominfo/pegawai/v1"},
        ],
    ) as (base, client, _, _, _):
        # scopes: kc token has "read write", not pegawai:read
        result = await call(client, base + URL, mint(KEY, claims()))
        expect(result, 403, 900910, "insufficient_scope", "pegawai:read")
        assert 'scope="pegawai:read"' in result[2]["www-authenticate"]
        good = mint(KEY, claims(scope="pegawai:read"))
        assert (await call(client, base + URL, good))[0] == 200
        async with client.options(base + URL, headers={"Authorization": f"Bearer {good}"}) as response:
            assert response.status == 405  # no resource matched: the scope table is not consulted, no 500
        # a kc token claiming a resident application: the app is not registered with kc
        hijack = mint(KEY, claims(azp="app1", scope="pegawai:read"))
        expect(
            await call(client, base + URL, hijack),
            403,
            900908,
            detail="not registered with key manager kc",
        )
        # not subscribed, subscription blocked
        _, answer = await token(client, base, client_id="app2")
        expect(await call(client, base + URL, answer["access_token"]), 403, 900907, detail="blocked")
        unknown = mint(KEY, claims(azp="stranger", scope="pegawai:read"))
        expect(await call(client, base + URL, unknown), 403, 900908, detail="not registered")
        _, answer = await token(client, base, scope="pegawai:read")
        async with client.post(
            base + "/kominfo/pegawai/v1/pegawai", headers={"Authorization": f"Bearer {answer['access_token']}"}
        ) as response:
            assert response.status == 403 and (await response.json())["code"] == 900910


async def test_not_subscribed_and_blocked(auth_config, tmp_path):
    async with with_kc(auth_config, tmp_path, subscriptions=[{"application": "app2", "api": "/other/v1"}]) as (
        base,
        client,
        _,
        app,
        _,
    ):
        _, answer = await token(client, base, client_id="app2")
        expect(await call(client, base + URL, answer["access_token"]), 403, 900908, detail="not subscribed")


async def test_api_accepting_only_kc_refuses_resident_tokens(auth_config, tmp_path):
    async with with_kc(auth_config, tmp_path, auth={"key_managers": ["kc"]}) as (base, client, _, _, _):
        _, answer = await token(client, base)
        expect(
            await call(client, base + URL, answer["access_token"]),
            401,
            900901,
            "invalid_token",
            "issuer is not accepted",
        )
        assert (await call(client, base + URL, mint(KEY, claims())))[0] == 200


async def test_introspection_key_manager(auth_config, tmp_path):
    introspection = IntrospectionServer()
    introspection.tokens["opaque-good"] = {
        "active": True,
        "client_id": "kc-app",
        "scope": "read",
        "exp": int(time.time()) + 60,
        "sub": "u1",
    }
    async with serve(introspection) as port:
        kms = [
            resident(tmp_path),
            {
                "type": "introspection",
                "name": "kc",
                "url": f"http://127.0.0.1:{port}/introspect",
                "client_id": "gw",
                "client_secret": "gw-secret",
                "negative_ttl": 60,
            },
        ]
        async with gateway(auth_config, key_managers=kms) as (base, client, upstream, _):
            for _ in range(3):
                assert (await call(client, base + URL, "opaque-good"))[0] == 200
            assert introspection.calls == 1  # positive cache
            for _ in range(3):
                expect(await call(client, base + URL, "opaque-bad"), 401, 900904, "invalid_token")
            assert introspection.calls == 2  # negative cache
            introspection.down = True
            assert (await call(client, base + URL, "opaque-good"))[0] == 200  # cached answer decides
            expect(await call(client, base + URL, "opaque-new"), 503, 900900)  # nothing can decide


async def test_api_key_in_query_is_removed_and_shadow_mode(auth_config, tmp_path):
    from tests.policies.auth.conftest import API_KEY

    async with gateway(
        auth_config, key_managers=[resident(tmp_path), {"type": "apikey", "header": None, "query": "apikey"}]
    ) as (base, client, upstream, _):
        status, seen, _ = await call(client, base + URL + f"?a=1&apikey={API_KEY}&b=2")
        assert status == 200 and seen["query"] == "a=1&b=2"
    async with gateway(auth_config, auth={"enforce": False}) as (base, client, upstream, _):
        status, seen, _ = await call(client, base + URL, "garbage", **{"X-Consumer-Application": "spoofed"})
        assert status == 200 and "x-consumer-application" not in dict(seen["headers"])


async def test_spoofed_identity_headers_removed_and_backend_jwt(auth_config, tmp_path):
    import jwt as pyjwt

    async with gateway(auth_config, auth={"backend_jwt": {"enabled": True}}) as (base, client, upstream, _):
        _, answer = await token(client, base)
        status, seen, _ = await call(
            client,
            base + URL,
            answer["access_token"],
            **{"X-Consumer-Application": "evil", "X-JWT-Assertion": "forged"},
        )
        headers = {}
        for name, value in seen["headers"]:
            headers.setdefault(name, []).append(value)
        assert headers["x-consumer-application"] == ["app1"]
        (assertion,) = headers["x-jwt-assertion"]
        async with client.get(base + "/oauth2/jwks") as response:
            jwks = await response.json()
        key = pyjwt.PyJWK(jwks["keys"][0]).key
        decoded = pyjwt.decode(assertion, key, algorithms=["RS256"])
        assert decoded["application"] == "app1" and decoded["tenant"] == "kominfo"


def test_not_base64_helper():
    assert base64.urlsafe_b64decode(b64(b"x") + "===") == b"x"


async def test_tenant_key_manager_speaks_only_for_its_tenant_and_blocked_app(auth_config, tmp_path):
    from tests.policies.auth.conftest import applications

    apps = applications(**{"kc-app": {"tenant": "kominfo"}, "app2": {"key_manager": "kc", "blocked": True}})
    subscriptions = [
        {"application": "kc-app", "api": "/kominfo/pegawai/v1"},
        {"application": "app2", "api": "/kominfo/pegawai/v1"},
    ]
    async with with_kc(auth_config, tmp_path, apps=apps, subscriptions=subscriptions) as (base, client, _, _, _):
        expect(await call(client, base + URL, mint(KEY, claims())), 403, 900908, detail="may not speak for tenant")
        blocked = mint(KEY, claims(azp="app2"))
        expect(await call(client, base + URL, blocked), 403, 900909, detail="app2 is blocked")


async def test_user_blocked_after_the_token_was_issued(auth_config, tmp_path):
    async with gateway(auth_config) as (base, client, _, _):
        status, answer = await token(client, base, grant_type="password", username="ani", password="ani-password")
        assert status == 200
    users = resident(tmp_path)["users"]
    blocked = [{**users[0], "blocked": True}, users[1]]
    kms = [resident(tmp_path, users=blocked), {"type": "apikey"}]
    async with gateway(auth_config, key_managers=kms) as (base, client, _, _):  # same key file: a restart
        expect(await call(client, base + URL, answer["access_token"]), 403, 900909, detail="user ani is blocked")
