"""External JWT key manager against a real JWKS server on loopback (tokens minted by joserfc)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from gateway.config.keymanagers import JwtConfig
from keymanager.errors import InvalidToken, KeyManagerUnavailable, TokenExpired
from keymanager.jwks import JwksKeyManager
from tests.keymanager.servers import ISSUER, JwksServer, claims, mint, mint_hs256_with_public_pem, new_ec, new_rsa
from tests.servers import serve


@contextlib.asynccontextmanager
async def manager(server: JwksServer, **config):
    async with serve(server) as port:
        server.port = port
        settings = {
            "jwks_url": f"http://127.0.0.1:{port}/jwks",
            "refetch_cooldown": 0.2,
            "leeway": 0,
            "audience": ("splp",),
            "algorithms": ("RS256", "ES256"),
            **config,
        }
        km = JwksKeyManager(JwtConfig(type="jwt", name="kc", issuer=ISSUER, **settings))
        try:
            yield km
        finally:
            await km.aclose()


async def test_valid_token_gives_principal_and_cache_hit_never_fetches():
    key = new_rsa("k1")
    server = JwksServer(key)
    async with manager(server) as km:
        principal = await km.authenticate(mint(key, claims()))
        assert (principal.application, principal.subject, principal.key_manager) == ("kc-app", "user-1", "kc")
        assert principal.scopes == {"read", "write"} and principal.issuer == ISSUER
        fetched = server.hits
        for _ in range(5):
            await km.authenticate(mint(key, claims()))
        assert server.hits == fetched == 1  # keys are held in memory


async def test_es256_and_discovery():
    key = new_ec("e1")
    server = JwksServer(key)
    async with serve(server) as port:
        server.port = port
        km = JwksKeyManager(
            JwtConfig(
                type="jwt",
                name="kc",
                issuer=ISSUER,
                discovery_url=f"http://127.0.0.1:{port}/.well-known/openid-configuration",
                algorithms=("ES256",),
            )
        )
        try:
            principal = await km.authenticate(mint(key, claims(), alg="ES256"))
            assert principal.subject == "user-1"
        finally:
            await km.aclose()


async def test_rotation_unknown_kid_refetches_once_per_cooldown():
    old, new = new_rsa("k1"), new_rsa("k2")
    server = JwksServer(old)
    async with manager(server, refetch_cooldown=30) as km:
        await km.authenticate(mint(old, claims()))
        server.rotate(new)
        await km.authenticate(mint(new, claims()))  # unknown kid -> one refetch finds it
        assert server.hits == 2
        for _ in range(20):  # a storm of made-up kids inside the cooldown: no refetch
            with pytest.raises(InvalidToken, match="no key 'made-up' is published"):
                await km.authenticate(mint(new_rsa("made-up"), claims()))
        assert server.hits == 2


async def test_removed_key_is_refused_after_refresh():
    old, new = new_rsa("k1"), new_rsa("k2")
    server = JwksServer(old, new)
    async with manager(server) as km:
        await km.authenticate(mint(old, claims()))
        server.remove("k1")
        await km.refresh()  # the scheduled refresh
        with pytest.raises(InvalidToken, match="no key 'k1'"):
            await km.authenticate(mint(old, claims()))


async def test_scheduled_refresh_runs_in_background():
    old, new = new_rsa("k1"), new_rsa("k2")
    server = JwksServer(old)
    async with manager(server, refresh_interval=0.2, refetch_cooldown=60) as km:
        await km.authenticate(mint(old, claims()))
        server.rotate(new)
        await asyncio.sleep(0.5)
        assert "k2" in km.keys and server.hits >= 2


NOW = object()  # stands for "seconds from the moment the test runs", resolved late: collection can be minutes earlier


@pytest.mark.parametrize(
    ("token_claims", "error", "message"),
    [
        ({"exp": (NOW, -1)}, TokenExpired, "expired"),
        ({"aud": "someone-else"}, InvalidToken, "audience"),
        ({"iss": "https://evil.example"}, InvalidToken, "issuer"),
        ({"exp": None}, InvalidToken, "no exp"),
        ({"nbf": (NOW, 120)}, InvalidToken, "not valid yet"),
        ({"iat": (NOW, 120)}, InvalidToken, "issued in the future"),
    ],
)
async def test_claims_refused(token_claims, error, message):
    now = int(time.time())
    resolved = {
        name: now + value[1] if isinstance(value, tuple) and value[0] is NOW else value
        for name, value in token_claims.items()
    }
    key = new_rsa("k1")
    async with manager(JwksServer(key)) as km:
        with pytest.raises(error, match=message):
            await km.authenticate(mint(key, claims(**resolved)))


async def test_leeway_accepts_small_skew():
    key = new_rsa("k1")
    async with manager(JwksServer(key), leeway=5) as km:
        await km.authenticate(mint(key, claims(exp=int(time.time()) - 1)))


async def test_algorithm_attacks_refused():
    key = new_rsa("k1")
    async with manager(JwksServer(key), algorithms=("RS256",)) as km:
        pem = key.as_pem(private=False)
        with pytest.raises(InvalidToken, match="HS256 is not accepted"):
            await km.authenticate(mint_hs256_with_public_pem(pem, claims(), "k1"))
        ec = new_ec("k1")  # same kid, other family
        with pytest.raises(InvalidToken, match="ES256 is not accepted"):
            await km.authenticate(mint(ec, claims(), alg="ES256"))
        # jku pointing at the attacker's own key set is ignored: the signature is checked with the configured keys
        attacker = new_rsa("k1")
        with pytest.raises(InvalidToken, match="signature does not verify"):
            await km.authenticate(mint(attacker, claims(), jku="http://127.0.0.1:1/evil", x5u="http://x/y"))
        with pytest.raises(InvalidToken, match="kid is not a plain identifier"):
            await km.authenticate(mint(key, claims(), kid="../../etc/passwd x"))


async def test_unreachable_jwks_without_cache_is_503_with_cache_decides():
    key = new_rsa("k1")
    server = JwksServer(key)
    server.down = True
    async with manager(server) as km:
        with pytest.raises(KeyManagerUnavailable):
            await km.authenticate(mint(key, claims()))
        server.down = False
        await asyncio.sleep(0.25)  # cooldown
        await km.authenticate(mint(key, claims()))
        server.down = True
        assert not await km.refresh()
        assert "k1" in km.keys  # a failed refresh keeps the last good keys
        await km.authenticate(mint(key, claims()))  # cached key decides: accepted
        with pytest.raises(TokenExpired):  # ... or refused, still 401 not 503
            await km.authenticate(mint(key, claims(exp=int(time.time()) - 1)))
        await asyncio.sleep(0.25)
        with pytest.raises(KeyManagerUnavailable):  # a kid no cached key has, JWKS down: nobody can decide
            await km.authenticate(mint(new_rsa("k9"), claims()))


async def test_jwks_server_gone_entirely():
    key = new_rsa("k1")
    server = JwksServer(key)
    async with manager(server) as km:
        await km.authenticate(mint(key, claims()))
    # the server has stopped (connection refused); cached keys still decide
    await km.authenticate(mint(key, claims()))
    await km.aclose()


async def test_keys_from_a_file_never_fetch(tmp_path):
    import json

    key = new_ec("f1")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    km = JwksKeyManager(JwtConfig(type="jwt", name="f", issuer=ISSUER, jwks_file=str(path), algorithms=("ES256",)))
    assert (await km.authenticate(mint(key, claims(), alg="ES256"))).subject == "user-1"
    with pytest.raises(InvalidToken, match="no key 'other' is in the configured key file"):
        await km.authenticate(mint(new_ec("other"), claims(), alg="ES256"))
    assert km.fetches == 0
    await km.aclose()
