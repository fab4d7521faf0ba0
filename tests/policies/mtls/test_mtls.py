"""mTLS end to end: real TLS handshakes on loopback with trustme certificates, the gateway as uvicorn serves it."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import http.client
import json
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
import trustme
from cryptography.hazmat.primitives.asymmetric import ec

from tests.gateway.conftest import api, running_gateway
from tests.servers import EchoUpstream, serve

pytestmark = pytest.mark.anyio


class Pki:
    """A server CA and two client CAs, their files under tmp_path."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.server_ca = trustme.CA()
        self.client_ca = trustme.CA()
        self.other_ca = trustme.CA()  # trusted by the listener, not by the API
        self.server = self.server_ca.issue_cert("localhost", "127.0.0.1")
        self.server.private_key_and_cert_chain_pem.write_to_path(tmp_path / "server.pem")
        self.client_ca.cert_pem.write_to_path(tmp_path / "client-ca.pem")
        self.other_ca.cert_pem.write_to_path(tmp_path / "other-ca.pem")

    def listener(self, **extra: Any) -> dict[str, Any]:
        pem = str(self.dir / "server.pem")
        cas = [str(self.dir / "client-ca.pem"), str(self.dir / "other-ca.pem")]
        return {"host": "127.0.0.1", "port": 0, "tls": {"cert": pem, "key": pem, "client_ca": cas, **extra}}

    def client(self, cert: trustme.LeafCert | None) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.server_ca.configure_trust(context)
        if cert is not None:
            cert.configure_cert(context)
        return context


def fingerprint(cert: trustme.LeafCert) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())).hexdigest()


async def get(url: str, context: ssl.SSLContext, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as client, client.get(url, ssl=context, headers=headers) as response:
        body = await response.read()
        return response.status, json.loads(body) if body else None


async def test_client_certificates_per_api(tmp_path: Path, write_config) -> None:
    pki = Pki(tmp_path)
    good = pki.client_ca.issue_cert("app-one@test", common_name="app-one")
    revoked = pki.client_ca.issue_cert("app-two@test", common_name="app-two")
    expired = pki.client_ca.issue_cert(
        "old@test", not_after=datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    )
    foreign = pki.other_ca.issue_cert("foreign@test")
    upstream = EchoUpstream()
    async with serve(upstream) as up:
        policy = {
            "mtls": {
                "issuers": [str(tmp_path / "client-ca.pem")],
                "revoked": [fingerprint(revoked)],
                "forward": "cert",
                "require_application": True,
            }
        }
        apps = [
            {"id": "app-one", "tenant": "test", "cert_fingerprints": [fingerprint(good)]},
            {"id": "app-two", "tenant": "test", "cert_subjects": ["CN=app-two"]},
        ]
        by_tenant = {"mtls": {"issuers_from_tenant": True}}
        path = write_config(
            [
                api("m", [f"http://127.0.0.1:{up}"], policies=[policy]),
                api("t", [f"http://127.0.0.1:{up}"], policies=[by_tenant]),
            ],
            gateway={"listen": pki.listener(tenant_client_ca={"test": [str(tmp_path / "client-ca.pem")]})},
            applications=apps,
        )
        async with running_gateway(path) as (base, _):
            url = base.replace("http://", "https://") + "/m/v1/echo"
            status, body = await get(url, pki.client(good), {"Client-Cert": ":AAAA:"})
            assert status == 200
            forwarded = [v for k, v in body["headers"] if k == "client-cert"]
            assert len(forwarded) == 1 and forwarded[0] != ":AAAA:"  # the verified one, never the client's copy
            sent = ssl.PEM_cert_to_DER_cert(good.cert_chain_pems[0].bytes().decode())
            assert forwarded[0] == ":" + base64.b64encode(sent).decode() + ":"

            before = len(upstream.requests)
            for cert, status_code, code in (
                (None, 401, 800501),
                (expired, 401, 800502),
                (foreign, 403, 800503),
                (revoked, 403, 800504),
            ):
                status, body = await get(url, pki.client(cert))
                assert (status, body["code"]) == (status_code, code), body
            assert len(upstream.requests) == before  # nothing reached the backend

            tenant_url = url.replace("/m/v1/", "/t/v1/")
            assert (await get(tenant_url, pki.client(good)))[0] == 200  # the tenant's CA
            status, body = await get(tenant_url, pki.client(foreign))  # trusted by the listener, not the tenant
            assert (status, body["code"]) == (403, 800503)

            stranger = trustme.CA().issue_cert("stranger@test")  # a CA the listener does not know
            with pytest.raises(aiohttp.ClientError):
                await get(url, pki.client(stranger))


async def test_client_cert_header_trusted_only_when_configured(tmp_path: Path, write_config) -> None:
    pki = Pki(tmp_path)
    cert = pki.client_ca.issue_cert("app@test")
    der = ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())
    header = {"Client-Cert": ":" + base64.b64encode(der).decode() + ":", "Client-Cert-Chain": "x"}
    upstream = EchoUpstream()
    async with serve(upstream) as up:
        apis = [
            api("open", [f"http://127.0.0.1:{up}"]),
            api("m", [f"http://127.0.0.1:{up}"], policies=[{"mtls": {"mode": "required"}}]),
        ]
        plain = write_config(apis[:1], gateway={"listen": {"host": "127.0.0.1", "trust_client_cert_header": False}})
        async with running_gateway(plain) as (base, _):
            async with aiohttp.ClientSession() as client:
                async with client.get(base + "/open/v1/echo", headers=header) as response:
                    sent = (await response.json())["headers"]
                assert not [k for k, _ in sent if k.startswith("client-cert")]  # stripped, never forwarded
        trusting = write_config(apis, gateway={"listen": {"host": "127.0.0.1", "trust_client_cert_header": True}})
        async with running_gateway(trusting) as (base, _):
            async with aiohttp.ClientSession() as client:
                async with client.get(base + "/m/v1/echo", headers=header) as response:
                    assert response.status == 200
                async with client.get(base + "/m/v1/echo") as response:
                    assert response.status == 401


def served_cert(pki: Pki, port: int, server_name: str) -> bytes:
    """The DER certificate the listener serves for `server_name` (a fresh handshake)."""
    context = pki.client(None)
    context.check_hostname = False
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as conn,
    ):
        return conn.getpeercert(binary_form=True) or b""


def der(cert: trustme.LeafCert) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())


async def test_certificate_file_change_is_picked_up(tmp_path: Path, write_config) -> None:
    pki = Pki(tmp_path)
    async with serve(EchoUpstream()) as up:
        listener = pki.listener(watch_interval=0.1)
        path = write_config([api("open", [f"http://127.0.0.1:{up}"])], gateway={"listen": listener})
        async with running_gateway(path) as (base, _):
            port = int(base.rsplit(":", 1)[1])
            assert await asyncio.to_thread(served_cert, pki, port, "localhost") == der(pki.server)
            renewed = pki.server_ca.issue_cert("localhost", "127.0.0.1")
            renewed.private_key_and_cert_chain_pem.write_to_path(tmp_path / "server.pem")
            for _ in range(50):
                if await asyncio.to_thread(served_cert, pki, port, "localhost") == der(renewed):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the renewed certificate was never served")


async def test_sni_and_reload_without_restart(tmp_path: Path, write_config) -> None:
    from gateway.server import tls

    pki = Pki(tmp_path)
    other = pki.server_ca.issue_cert("other.test")
    other.private_key_and_cert_chain_pem.write_to_path(tmp_path / "other.pem")
    listener = pki.listener(watch_interval=0)
    listener["tls"]["sni"] = [
        {"host": "other.test", "cert": str(tmp_path / "other.pem"), "key": str(tmp_path / "other.pem")}
    ]
    async with serve(EchoUpstream()) as up:
        path = write_config([api("open", [f"http://127.0.0.1:{up}"])], gateway={"listen": listener})
        async with running_gateway(path) as (base, _):
            port = int(base.rsplit(":", 1)[1])

            first = await asyncio.to_thread(served_cert, pki, port, "localhost")
            assert first == ssl.PEM_cert_to_DER_cert(pki.server.cert_chain_pems[0].bytes().decode())
            assert await asyncio.to_thread(served_cert, pki, port, "other.test") == ssl.PEM_cert_to_DER_cert(
                other.cert_chain_pems[0].bytes().decode()
            )
            # a keep-alive connection opened before the reload keeps working, on its old certificate
            kept = http.client.HTTPSConnection("localhost", port, context=pki.client(None))
            await asyncio.to_thread(kept.request, "GET", "/open/v1/echo")
            assert (await asyncio.to_thread(kept.getresponse)).read()
            sock = kept.sock
            renewed = pki.server_ca.issue_cert("localhost", "127.0.0.1")
            renewed.private_key_and_cert_chain_pem.write_to_path(tmp_path / "server.pem")
            tls.reload_all()  # what SIGHUP does
            await asyncio.to_thread(kept.request, "GET", "/open/v1/echo")
            response = await asyncio.to_thread(kept.getresponse)
            assert response.status == 200 and response.read() and kept.sock is sock
            assert sock is not None and sock.getpeercert(binary_form=True) == der(pki.server)
            kept.close()
            assert await asyncio.to_thread(served_cert, pki, port, "localhost") == ssl.PEM_cert_to_DER_cert(
                renewed.cert_chain_pems[0].bytes().decode()
            )


async def test_certificate_bound_token(tmp_path: Path, write_config) -> None:
    pki = Pki(tmp_path)
    mine = pki.client_ca.issue_cert("app@test")
    theirs = pki.client_ca.issue_cert("other@test")
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "ES256"}]}))
    thumb = base64.urlsafe_b64encode(bytes.fromhex(fingerprint(mine))).rstrip(b"=").decode()
    now = int(time.time())
    claims = {"iss": "https://idp.test", "sub": "s", "azp": "app", "aud": "splp", "iat": now, "exp": now + 600}
    bound = jwt.encode({**claims, "cnf": {"x5t#S256": thumb}}, key, algorithm="ES256", headers={"kid": "k1"})
    upstream = EchoUpstream()
    async with serve(upstream) as up:
        path = write_config(
            [api("t", [f"http://127.0.0.1:{up}"], policies=[{"auth": {"subscription_required": False}}])],
            gateway={"listen": pki.listener()},
            key_managers=[
                {
                    "type": "jwt",
                    "name": "idp",
                    "issuer": "https://idp.test",
                    "jwks_file": str(tmp_path / "jwks.json"),
                    "algorithms": ["ES256"],
                    "audience": ["splp"],
                }
            ],  # fmt: skip
        )
        async with running_gateway(path) as (base, _):
            url = base.replace("http://", "https://") + "/t/v1/echo"
            auth = {"Authorization": f"Bearer {bound}"}
            assert (await get(url, pki.client(mine), auth))[0] == 200
            before = len(upstream.requests)
            for cert in (theirs, None):
                status, body = await get(url, pki.client(cert), auth)
                assert (status, body["code"]) == (401, 800506), body
            assert len(upstream.requests) == before


@pytest.mark.parametrize("client", ["lean", "aiohttp"])
async def test_backend_requires_client_certificate(tmp_path: Path, write_config, monkeypatch, client: str) -> None:
    import uvicorn

    from gateway.sealing import MasterKey
    from tests.servers import free_port

    backend_ca = trustme.CA()
    backend_cert = backend_ca.issue_cert("localhost")
    backend_cert.private_key_and_cert_chain_pem.write_to_path(tmp_path / "backend.pem")
    gateway_ca = trustme.CA()  # the backend trusts only client certificates of this CA
    gateway_ca.cert_pem.write_to_path(tmp_path / "gateway-ca.pem")
    backend_ca.cert_pem.write_to_path(tmp_path / "backend-ca.pem")
    gateway_cert = gateway_ca.issue_cert("gateway@test")
    gateway_cert.cert_chain_pems[0].write_to_path(tmp_path / "gw-cert.pem")
    gateway_cert.private_key_pem.write_to_path(tmp_path / "gw-key.pem")
    upstream = EchoUpstream()
    config = uvicorn.Config(
        upstream, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off",
        ssl_certfile=str(tmp_path / "backend.pem"), ssl_ca_certs=str(tmp_path / "gateway-ca.pem"),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    )  # fmt: skip
    monkeypatch.setenv("SPLP_MASTER_KEY", base64.urlsafe_b64encode(b"k" * 32).rstrip(b"=").decode())
    sealed = MasterKey(b"k" * 32).seal(gateway_cert.private_key_pem.bytes(), owner="backend:/sealed/v1")
    async with serve(None, config=config) as up:
        endpoint = [f"https://localhost:{up}"]
        tls = {"ca": str(tmp_path / "backend-ca.pem"), "cert": str(tmp_path / "gw-cert.pem")}
        key = str(tmp_path / "gw-key.pem")
        apis = [
            api("with", endpoint, backend={"tls": {**tls, "key": key}}),
            api("sealed", endpoint, backend={"tls": {**tls, "key": sealed}}),
            api("without", endpoint, backend={"tls": {"ca": str(tmp_path / "backend-ca.pem")}}),
            api("pinned-other", endpoint, backend={"tls": {**tls, "key": key,
                                                            "pinned_certs": [str(tmp_path / "gateway-ca.pem")]}}),
            api("pinned", endpoint, backend={"tls": {**tls, "key": key,
                                                      "pinned_certs": [str(tmp_path / "backend.pem")]}}),
            api("wrong-name", [f"https://127.0.0.1:{up}"], backend={"tls": {**tls, "key": key}}),
        ]  # fmt: skip
        path = write_config(apis, gateway={"listen": {"host": "127.0.0.1"}}, upstream={"client": client})
        async with running_gateway(path) as (base, _), aiohttp.ClientSession() as session:
            for name, expected in (
                ("with", 200),
                ("sealed", 200),
                ("pinned", 200),
                ("without", 502),  # the backend wants a client certificate
                ("pinned-other", 502),  # the backend's certificate is not the pinned one
                ("wrong-name", 502),  # hostname verification: the certificate names localhost only
            ):
                async with session.get(f"{base}/{name}/v1/echo") as response:
                    assert response.status == expected, (name, await response.text())
    assert len(upstream.requests) == 3
