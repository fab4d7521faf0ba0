"""An application's client certificates (mTLS identity) and JWE public key: read by anyone who sees the
application, replaced by those who may change it (subscribers, publishers, tenant admins, super admins)."""

from __future__ import annotations

from gateway.catalog.certificates import ApplicationCertificates
from gateway.control.endpoints import Call, Endpoint
from gateway.control.routes.applications import CONSUMERS, _visible


async def get_certificates(call: Call) -> ApplicationCertificates:
    application = await _visible(call)
    return await call.store.certificates.get(application.id)


async def put_certificates(call: Call) -> ApplicationCertificates:
    application = await _visible(call)
    body: ApplicationCertificates = call.body
    return await call.store.certificates.put(call.principal.actor, application.id, body)


_PATH = "/api/v1/applications/{id}/certificates"
ENDPOINTS = (
    Endpoint(
        "GET",
        _PATH,
        get_certificates,
        "The client certificates that identify the application, and its JWE public key",
        "applications",
        response=ApplicationCertificates,
    ),
    Endpoint(
        "PUT",
        _PATH,
        put_certificates,
        "Replace the application's certificate fingerprints, subject DNs and JWE public key",
        "applications",
        roles=CONSUMERS,
        body=ApplicationCertificates,
        response=ApplicationCertificates,
        description="Fingerprints are SHA-256 (hex, colons allowed); subjects RFC 4514 as `splp certs` prints them; "
        "the JWE key a PEM public key (RSA >= 2048 or EC P-256). Gateways apply the change within a second.",
    ),
)
