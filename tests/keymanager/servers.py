"""Loopback servers and token minting for key-manager tests. Tokens are made with joserfc, an independent JOSE
implementation, never with the project's own signing code."""

from __future__ import annotations

import base64
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qsl

from joserfc import jws
from joserfc.jwk import ECKey, RSAKey

from gateway.types import Receive, Scope, Send

ISSUER = "https://idp.example.go.id/realms/bappenas"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_rsa(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid})


def new_ec(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid})


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "sub": "user-1",
        "azp": "kc-app",
        "aud": "splp",
        "scope": "read write",
        "iat": now,
        "exp": now + 300,
        "jti": f"j{now}{id(overrides)}",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def mint(key: RSAKey | ECKey, payload: dict[str, Any] | bytes, alg: str = "RS256", **header: Any) -> str:
    protected = {"alg": alg, "typ": "JWT", "kid": key.kid, **header}
    protected = {k: v for k, v in protected.items() if v is not None}
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return jws.serialize_compact(protected, data, key, algorithms=[alg])


def mint_hs256_with_public_pem(public_pem: bytes, payload: dict[str, Any], kid: str) -> str:
    """The HS/RS confusion attack: HMAC keyed with the RSA public key the verifier holds."""
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(payload).encode())
    mac = hmac.new(public_pem, f"{head}.{body}".encode(), "sha256").digest()
    return f"{head}.{body}.{b64(mac)}"


async def _json(send: Send, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": data})


class JwksServer:
    """/jwks with the current keys (rotate/remove at will), /.well-known/openid-configuration; `down` -> 500.
    `published[kid]` adds members to that key's JWK (alg, use, key_ops) without changing the key itself."""

    def __init__(self, *keys: RSAKey | ECKey, issuer: str = ISSUER) -> None:
        self.keys = list(keys)
        self.published: dict[str, dict[str, Any]] = {}
        self.issuer = issuer
        self.down = False
        self.hits = 0
        self.port = 0

    def rotate(self, key: RSAKey | ECKey, drop_old: bool = False) -> None:
        self.keys = [key] if drop_old else [*self.keys, key]

    def remove(self, kid: str) -> None:
        self.keys = [k for k in self.keys if k.kid != kid]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if self.down:
            return await _json(send, 500, {"error": "down"})
        if scope["path"] == "/.well-known/openid-configuration":
            return await _json(send, 200, {"issuer": self.issuer, "jwks_uri": f"http://127.0.0.1:{self.port}/jwks"})
        self.hits += 1
        keys = [{**k.as_dict(private=False), **self.published.get(str(k.kid), {})} for k in self.keys]
        await _json(send, 200, {"keys": keys})


class IntrospectionServer:
    """RFC 7662 on loopback: POST /introspect with Basic client auth; answers from `tokens`."""

    def __init__(self, client_id: str = "gw", secret: str = "gw-secret") -> None:
        self.tokens: dict[str, dict[str, Any]] = {}
        self.expected = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        self.calls = 0
        self.down = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.calls += 1
        if self.down:
            return await _json(send, 503, {"error": "down"})
        headers = dict(scope["headers"])
        if headers.get(b"authorization", b"").decode() != self.expected:
            return await _json(send, 401, {"error": "invalid_client"})
        token = dict(parse_qsl(body.decode())).get("token", "")
        await _json(send, 200, self.tokens.get(token, {"active": False}))
