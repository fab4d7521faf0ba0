"""The mtls policy's refusals: problem+json, SPLP codes 8005xx (WSO2 has none for client certificates)."""

from __future__ import annotations

from gateway.errors import Problem

CERT_REQUIRED = Problem(401, 800501, "client-cert-required", "Client certificate required")
CERT_EXPIRED = Problem(401, 800502, "client-cert-expired", "Client certificate expired or not yet valid")
CERT_UNTRUSTED = Problem(403, 800503, "client-cert-untrusted-issuer", "Client certificate issuer not accepted")
CERT_REVOKED = Problem(403, 800504, "client-cert-revoked", "Client certificate revoked")
CERT_UNREGISTERED = Problem(403, 800505, "client-cert-unregistered", "Client certificate not registered")
