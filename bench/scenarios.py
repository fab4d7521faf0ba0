"""Scenario registry: name -> how the gateway is configured and what request the load generators send.

A later scenario (jwt, throttle-memory, throttle-redis, upload/download) plugs in by adding a
bench/conf/<name>/gateway.yaml and one `Scenario(...)` entry below. Every target receives the same URL
(`api_prefix + path`): the gateway strips its API prefix, the references forward the path unchanged, and
the bench upstream answers any path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.upstream.server import BODY as UPSTREAM_BODY

CONF_DIR = Path(__file__).parent / "conf"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    conf: Path  # a bench/conf/<name>/ directory holding gateway.yaml; `splp check` validates it
    path: str = "/hello"  # below the API prefix
    method: str = "GET"
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    api_prefix: str = "/bench/v1"  # context/version of the API in the scenario's gateway.yaml
    expect_status: int = 200
    expect_body: bytes | None = UPSTREAM_BODY  # None: any body (e.g. an encrypted one)
    count_events: bool = False  # scenario `observed`: fresh analytics database, events accounted after the run

    @property
    def url_path(self) -> str:
        return self.api_prefix + self.path

    def wrk_lua(self) -> str | None:
        """A wrk script for requests a plain `wrk URL` cannot send (a method other than GET, a body, headers)."""
        if self.method == "GET" and not self.body and not self.headers:
            return None
        lines = [f'wrk.method = "{self.method}"']
        if self.body:
            lines.append(f"wrk.body = {_lua_string(self.body)}")
        for name, value in self.headers:
            lines.append(f"wrk.headers[{_lua_string(name.encode())}] = {_lua_string(value.encode())}")
        return "\n".join(lines) + "\n"


def _lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{byte}" if byte < 32 or byte > 126 or byte in b'"\\' else chr(byte) for byte in data) + '"'


def _bench_jwt() -> str:
    """An ES256 token for the jwt scenario. The key lives in var/bench/ (git-ignored, 0600) so every process that
    imports this module (runner, locust) signs with the same key; SPLP_BENCH_JWKS_FILE points at its public half."""
    import json
    import os
    import time

    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    folder = Path(__file__).resolve().parents[1] / "var" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    pem = folder / "jwt-key.pem"
    try:
        key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
    except FileNotFoundError:
        key = ec.generate_private_key(ec.SECP256R1())
        data = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        with os.fdopen(os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
            file.write(data)
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwks = folder / "jwt-jwks.json"
    jwks.write_text(json.dumps({"keys": [{**public, "kid": "bench", "alg": "ES256", "use": "sig"}]}))
    os.environ["SPLP_BENCH_JWKS_FILE"] = str(jwks)  # the spawned gateway inherits it
    now = int(time.time())
    claims = {"iss": "https://idp.bench.splp.local", "sub": "bench-user", "azp": "bench-app", "aud": "splp-bench",
              "scope": "bench:read", "iat": now, "exp": now + 7 * 86400, "jti": "bench"}  # fmt: skip
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": "bench"})


JWE_API_KEY = "bench-jwe-api-key-0123456789abcdef"  # its sha256 is in bench/conf/jwe/gateway.yaml


def _bench_jwe() -> bytes:
    """A 4 KiB JSON body as compact JWE to the gateway's key. The gateway key (EC P-256) and the application's key
    (RSA 2048) live in var/bench/jwe/ (git-ignored, private halves 0600), made once and shared by every process."""
    import json
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from joserfc import jwe
    from joserfc.jwk import ECKey

    folder = Path(__file__).resolve().parents[1] / "var" / "bench" / "jwe"
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in (("gateway", lambda: ec.generate_private_key(ec.SECP256R1())),
                       ("app", lambda: rsa.generate_private_key(65537, 2048))):  # fmt: skip
        if (folder / f"{name}.key").exists():
            continue
        key = make()
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with os.fdopen(os.open(folder / f"{name}.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
            file.write(private)
        (folder / f"{name}.pub").write_bytes(public)
    recipient = ECKey.import_key((folder / "gateway.pub").read_bytes())
    body = json.dumps({"nip": "198701012010011001", "pad": "x" * 4030}).encode()
    header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": "json"}
    return jwe.encrypt_compact(header, body, recipient, algorithms=["ECDH-ES+A256KW", "A256GCM"]).encode()


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            name="passthrough",
            description="GET through one API with no policies: the proxy's own cost",
            conf=CONF_DIR / "passthrough",
        ),
        Scenario(
            name="observed",
            description="passthrough + access log to a file, analytics to PostgreSQL (COPY), metrics, policy timing",
            conf=CONF_DIR / "observed",
            count_events=True,
        ),
        Scenario(
            name="jwt",
            description="GET with a JWT bearer: auth policy (cached valid token) + subscription and scope check",
            conf=CONF_DIR / "jwt",
            headers=(("authorization", f"Bearer {_bench_jwt()}"),),
        ),
        Scenario(
            name="tls",
            description="passthrough over HTTPS (TLS 1.3, keep-alive); loaded by bench.tlsload, as are nginx and plain",
            conf=CONF_DIR / "passthrough",
        ),
        Scenario(
            name="mtls",
            description="passthrough over mTLS (client certificate, mtls policy required), keep-alive",
            conf=CONF_DIR / "passthrough",
        ),
        Scenario(
            name="mtls-newconn",
            description="mTLS with a new connection and full handshake per request (Connection: close)",
            conf=CONF_DIR / "passthrough",
        ),
        Scenario(
            name="jwe",
            description="POST of a 4 KiB JWE body: decrypted for the upstream, the answer encrypted to the app's key",
            conf=CONF_DIR / "jwe",
            method="POST",
            body=_bench_jwe(),
            headers=(("apikey", JWE_API_KEY), ("content-type", "application/jose")),
            expect_body=None,
        ),
        Scenario(
            name="throttle-memory",
            description="passthrough + throttle, three levels per request (subscription, API per IP, backend), memory",
            conf=CONF_DIR / "throttle-memory",
            headers=(("X-App", "bench-app"),),
        ),
        Scenario(
            name="throttle-redis",
            description="passthrough + throttle, three levels per request, counted in Redis (one script call)",
            conf=CONF_DIR / "throttle-redis",
            headers=(("X-App", "bench-app"),),
        ),
    )
}


def get(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(sorted(SCENARIOS)) or "none"
        raise KeyError(f"unknown scenario {name!r}; known: {known} (and etl-* from bench.etl)") from None
