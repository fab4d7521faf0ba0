"""The auth policy as an ASGI app inside a real chain (GatewayApp called directly): the cached hot path, the
short-circuit contract, and config errors."""

from __future__ import annotations

import time

import orjson
import pytest

from gateway.app import GatewayApp
from gateway.config.errors import ConfigError
from gateway.config.load import load_config
from keymanager import jwks as jwks_module
from keymanager.base import Principal
from keymanager.cache import TokenCache, token_key
from tests.asgi import SendRecorder, receive_never
from tests.keymanager.servers import ISSUER, JwksServer, claims, mint, new_rsa
from tests.policies.auth.conftest import resident
from tests.servers import EchoUpstream, serve


def scope_for(token: str | None, path: str = "/kominfo/pegawai/v1/pegawai/1") -> dict:
    headers = [(b"host", b"gw")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "scheme": "http",
        "client": ("127.0.0.1", 5000),
    }


async def test_cached_token_costs_no_signature_check_and_no_io(auth_config, tmp_path, monkeypatch):
    key = new_rsa("k1")
    server = JwksServer(key)
    verified = []
    real_verify = jwks_module.verify_signature
    monkeypatch.setattr(jwks_module, "verify_signature", lambda *a: verified.append(1) or real_verify(*a))
    async with serve(server) as jwks_port, serve(EchoUpstream()) as port:
        kc = {"type": "jwt", "name": "kc", "issuer": ISSUER, "jwks_url": f"http://127.0.0.1:{jwks_port}/jwks"}
        app = GatewayApp(load_config(auth_config(port, key_managers=[resident(tmp_path), kc])))
        good = mint(key, claims())
        send = SendRecorder()
        await app(scope_for(good), receive_never_after_first(), send)
        assert send.status == 200 and verified == [1] and server.hits == 1
        server.down = True
        for _ in range(50):
            send = SendRecorder()
            await app(scope_for(good), receive_never_after_first(), send)
            assert send.status == 200
        assert verified == [1] and server.hits == 1  # cache hits: no signature check, no fetch
        await app.services.aclose()


def receive_never_after_first():
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    return receive


async def test_refusal_short_circuits(auth_config, tmp_path):
    upstream = EchoUpstream()
    async with serve(upstream) as port:
        app = GatewayApp(load_config(auth_config(port)))
        send = SendRecorder()
        await app(scope_for("not-a-token"), receive_never, send)
        body = orjson.loads(send.messages[1]["body"])
        assert send.status == 401 and body["code"] == 900901 and body["request_id"]
        assert send.headers[b"content-type"] == b"application/problem+json"
        assert send.headers[b"www-authenticate"].startswith(b'Bearer realm="splp", error="invalid_token"')
        assert upstream.requests == []  # the backend never saw it
        await app.services.aclose()


@pytest.mark.parametrize(
    ("auth", "key_managers", "message"),
    [
        ({"key_managers": ["nope"]}, None, "key manager 'nope' is not declared"),
        ({"scopes": {"GET /missing": ["x"]}}, None, "names no resource"),
        ({"backend_jwt": {"enabled": True}}, [{"type": "apikey"}], "backend_jwt needs a resident"),
        (
            {},
            [
                {"type": "introspection", "name": "a", "url": "http://x/i", "client_id": "c", "client_secret": "s"},
                {"type": "introspection", "name": "b", "url": "http://y/i", "client_id": "c", "client_secret": "s"},
            ],
            "set opaque_order",
        ),
        ({"opaque_order": ["resident"]}, None, "not an accepted introspection key manager"),
    ],
)
def test_config_errors(auth_config, tmp_path, auth, key_managers, message):
    path = auth_config(1, auth=auth, key_managers=key_managers if key_managers is not None else [resident(tmp_path)])
    with pytest.raises(ConfigError, match=rf"apis\[0\]\.policies\.auth: auth: .*{message}"):
        GatewayApp(load_config(path))


@pytest.mark.parametrize(
    ("key_managers", "message"),
    [
        ([{"type": "resident"}, {"type": "resident", "name": "r2"}], "at most one resident"),
        ([{"type": "apikey"}, {"type": "apikey"}], "used twice"),
        ([{"type": "jwt", "name": "a", "issuer": "i", "jwks_url": "u", "algorithms": ["none"]}], "not an accepted"),
        ([{"type": "jwt", "name": "a", "issuer": "i"}], "exactly one of jwks_url, discovery_url or jwks_file"),
        (
            [
                {"type": "jwt", "name": "a", "issuer": "i", "jwks_url": "u"},
                {"type": "jwt", "name": "b", "issuer": "i", "jwks_url": "u"},
            ],
            "declared by two key managers",
        ),
        ([{"type": "apikey", "header": None}], "needs a header or a query"),
    ],
)
def test_key_manager_config_errors(auth_config, key_managers, message):
    from gateway.config.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        load_config(auth_config(1, key_managers=key_managers))


def test_token_cache_bounded_and_expiring():
    cache = TokenCache(max_entries=10)
    now = time.time()

    def principal(exp: float) -> Principal:
        return Principal(
            key_manager="k",
            issuer="i",
            subject="s",
            application="a",
            scopes=frozenset(),
            tenant=None,
            expires_at=exp,
            claims={},
            token_id="j",
        )

    for i in range(25):
        cache.put(token_key(f"t{i}"), principal(now + 60))
    assert len(cache) <= 10 and cache.get(token_key("t24"), now) is not None
    cache.put(token_key("old"), principal(now - 1))
    assert cache.get(token_key("old"), now) is None
    cache.discard_token_id("k", "j")
    assert len(cache) == 0
