"""The client certificate of a request: parsed once, read by the mtls and auth policies.

Where it comes from: the ASGI TLS extension (scope["extensions"]["tls"]["client_cert_chain"], filled by
gateway.server.protocol once per connection), or, on a listener configured to trust a fronting proxy,
the RFC 9440 Client-Cert header that GatewayApp moved into the request context. A client-sent
Client-Cert header on any other listener never gets this far: GatewayApp strips it.
Parsing is cached by the certificate's bytes, so a keep-alive connection or a returning client costs a
dict lookup per request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ssl
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography import x509

TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


@dataclass(frozen=True, slots=True)
class ClientCert:
    cert: x509.Certificate
    der: bytes
    sha256: str  # fingerprint, 64 lowercase hex digits
    x5t_s256: str  # base64url(sha256(DER)) without padding: RFC 8705 cnf["x5t#S256"]
    subject: str  # RFC 4514 distinguished name
    issuer: str
    not_before: float  # epoch seconds
    not_after: float

    def valid_at(self, now: float) -> bool:
        return self.not_before <= now <= self.not_after

    def header_value(self) -> bytes:
        """RFC 9440 Client-Cert: the DER as a structured-field byte sequence."""
        return b":" + base64.b64encode(self.der) + b":"


@lru_cache(maxsize=4096)
def from_der(der: bytes) -> ClientCert:
    cert = x509.load_der_x509_certificate(der)
    digest = hashlib.sha256(der).digest()
    return ClientCert(
        cert=cert,
        der=der,
        sha256=digest.hex(),
        x5t_s256=base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc.timestamp(),
        not_after=cert.not_valid_after_utc.timestamp(),
    )


@lru_cache(maxsize=4096)
def from_pem(pem: str) -> ClientCert:
    return from_der(ssl.PEM_cert_to_DER_cert(pem))


def from_header(value: bytes) -> ClientCert | None:
    """A Client-Cert header value (`:base64(DER):`); None when it is not one."""
    value = value.strip()
    if len(value) < 3 or value[:1] != b":" or value[-1:] != b":":
        return None
    try:
        return from_der(base64.b64decode(value[1:-1], validate=True))
    except (ValueError, binascii.Error):
        return None


def tls_extension(ssl_object: Any) -> dict[str, Any]:
    """The ASGI TLS extension dict of one connection (built once, when the connection is made).

    Python 3.11's ssl gives the peer's leaf certificate only, so client_cert_chain holds at most that one.
    """
    der: bytes | None = ssl_object.getpeercert(binary_form=True)
    chain: list[str] = []
    name: str | None = None
    if der:
        chain.append(ssl.DER_cert_to_PEM_cert(der))
        try:
            name = from_der(der).subject
        except ValueError:
            name = None
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": name,
        "client_cert_error": None,
        "tls_version": TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


def request_cert(scope: Any) -> ClientCert | None:
    """The request's client certificate: a trusted proxy's header (moved into the context), else TLS."""
    ctx = scope.get("gateway")
    extra = ctx.extra if ctx is not None else None
    if extra is not None:
        forwarded = extra.get("client_cert_header")
        if forwarded is not None:
            return from_header(forwarded)
    extensions = scope.get("extensions")
    if not extensions:
        return None
    tls = extensions.get("tls")
    if not tls:
        return None
    chain = tls.get("client_cert_chain")
    if not chain:
        return None
    return from_pem(chain[0])
