"""JWE end to end through a real gateway; the consumer and the backend use jwcrypto, not the gateway's joserfc."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from jwcrypto import jwe, jwk

from keymanager.hashing import hash_api_key
from tests.gateway.conftest import api, running_gateway
from tests.servers import EchoUpstream, serve

pytestmark = pytest.mark.anyio
API_KEY = "k-jwe-0123456789abcdef0123456789ab"
A256GCM = "A256GCM"


def pem_files(tmp_path: Path, name: str, key: jwk.JWK) -> tuple[str, str]:
    private, public = tmp_path / f"{name}.key", tmp_path / f"{name}.pub"
    private.write_bytes(key.export_to_pem(private_key=True, password=None))
    public.write_bytes(key.export_to_pem())
    return str(private), str(public)


def seal(plaintext: bytes, key: jwk.JWK, alg: str, **header: Any) -> bytes:
    token = jwe.JWE(plaintext, protected=json.dumps({"alg": alg, "enc": A256GCM, **header}))
    token.add_recipient(key)
    return token.serialize(compact=True).encode()


def unseal(token: bytes, key: jwk.JWK) -> tuple[bytes, dict[str, Any]]:
    reader = jwe.JWE()
    reader.deserialize(token.decode(), key=key)
    return reader.payload, json.loads(reader.objects["protected"])


class JweBackend(EchoUpstream):
    """A backend in reverse mode: reads JWE bodies with its own key and answers JWE to the gateway's key."""

    def __init__(self, own: jwk.JWK, gateway: jwk.JWK) -> None:
        super().__init__("jwe-backend")
        self.own, self.gateway = own, gateway

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        plain, _ = unseal(body, self.own)
        self.requests.append({"plain": plain, "headers": dict(scope["headers"])})
        answer = seal(b'{"seen":' + plain + b"}", self.gateway, "ECDH-ES+A256KW", cty="json")
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/jose")]})
        await send({"type": "http.response.body", "body": answer})


async def test_jwe_both_ways_and_every_refusal(tmp_path: Path, write_config) -> None:
    gateway_key = jwk.JWK.generate(kty="EC", crv="P-256")
    app_key = jwk.JWK.generate(kty="RSA", size=2048)
    stranger = jwk.JWK.generate(kty="EC", crv="P-256")
    gateway_private, gateway_public = pem_files(tmp_path, "gateway", gateway_key)
    _, app_public = pem_files(tmp_path, "app", app_key)
    upstream = EchoUpstream()
    async with serve(upstream) as up:
        policies = [{"auth": {"subscription_required": False}}, {"jwe": {"private_key": gateway_private}}]
        path = write_config(
            [api("enc", [f"http://127.0.0.1:{up}"], policies=policies)],
            key_managers=[{"type": "apikey"}],
            applications=[
                {"id": "app", "tenant": "test", "api_keys": [hash_api_key(API_KEY)], "jwe_public_key": app_public}
            ],
        )
        async with running_gateway(path) as (base, _), aiohttp.ClientSession() as client:
            url = f"{base}/enc/v1/echo"
            headers = {"apikey": API_KEY, "content-type": "application/jose"}
            payload = json.dumps({"nip": "1987", "pad": "x" * 4000}).encode()
            token = seal(payload, gateway_key, "ECDH-ES+A256KW", cty="json")
            async with client.post(url, data=token, headers=headers) as response:
                assert response.status == 200
                assert response.headers["content-type"] == "application/jose"
                plain, header = unseal(await response.read(), app_key)
            assert header["alg"] == "RSA-OAEP-256" and header["enc"] == A256GCM
            echoed = json.loads(plain)
            assert echoed["size"] == len(payload)  # the backend got the decrypted body
            assert ["content-type", "application/json"] in echoed["headers"]

            good = token.split(b".")
            tag = base64.urlsafe_b64decode(good[4] + b"==")
            tampered = b".".join([*good[:4], base64.urlsafe_b64encode(bytes([tag[0] ^ 1]) + tag[1:]).rstrip(b"=")])
            header_zip = seal(payload, gateway_key, "ECDH-ES+A256KW", zip="DEF")
            before = len(upstream.requests)
            for body, content_type, status, code in (
                (seal(payload, stranger, "ECDH-ES+A256KW"), "application/jose", 400, 800514),  # wrong key
                (tampered, "application/jose", 400, 800515),
                (seal(payload, gateway_key, "ECDH-ES"), "application/jose", 400, 800512),  # alg not accepted
                (header_zip, "application/jose", 400, 800513),
                (payload, "application/json", 415, 800510),  # plain JSON where JWE is required
                (b'{"not": "jwe"}', "application/jose", 400, 800511),
            ):
                async with client.post(url, data=body, headers={**headers, "content-type": content_type}) as response:
                    problem = await response.json(content_type=None)
                    assert (response.status, problem["code"]) == (status, code), problem
            assert len(upstream.requests) == before  # nothing reached the backend


async def test_reverse_mode_backend_speaks_jwe(tmp_path: Path, write_config) -> None:
    gateway_key = jwk.JWK.generate(kty="EC", crv="P-256")
    backend_key = jwk.JWK.generate(kty="RSA", size=2048)
    gateway_private, _ = pem_files(tmp_path, "gateway", gateway_key)
    _, backend_public = pem_files(tmp_path, "backend", backend_key)
    backend = JweBackend(backend_key, gateway_key)
    async with serve(backend) as up:
        policy = {
            "jwe": {
                "request": "off",
                "response": "off",
                "private_key": gateway_private,
                "backend_request": "encrypt",
                "backend_public_key": backend_public,
                "backend_response": "decrypt",
            }
        }
        path = write_config([api("rev", [f"http://127.0.0.1:{up}"], policies=[policy])])
        async with running_gateway(path) as (base, _), aiohttp.ClientSession() as client:
            body = b'{"a":1}'
            async with client.post(f"{base}/rev/v1/x", data=body, headers={"content-type": "application/json"}) as r:
                assert r.status == 200
                assert r.headers["content-type"] == "application/json"
                assert json.loads(await r.read()) == {"seen": {"a": 1}}
    assert backend.requests[0]["plain"] == body
    assert backend.requests[0]["headers"][b"content-type"] == b"application/jose"
