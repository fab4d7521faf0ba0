"""What identifies an application over mTLS (client-certificate fingerprints and subject DNs) and the public key
its responses are encrypted to (JWE). Public material only, so stored as is; one row per application.

Every change is audited on the application (object type "application"), so gateways hear of it and rebuild.
"""

from __future__ import annotations

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.catalog import audit
from gateway.catalog.applications import fetch
from gateway.catalog.audit import Actor
from gateway.catalog.db import Database, Row
from gateway.catalog.util import json_column, now
from gateway.config.tls import normalize_fingerprint


class ApplicationCertificates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cert_fingerprints: list[str] = Field(
        [], max_length=100, description="SHA-256 fingerprints (hex, colons allowed) of the application's certificates."
    )
    cert_subjects: list[str] = Field(
        [], max_length=100, description="Client-certificate subject DNs (RFC 4514, as `splp certs` prints them)."
    )
    jwe_public_key: str | None = Field(
        None, max_length=10000, description="PEM public key (RSA >= 2048 bits or EC P-256) responses are encrypted to."
    )

    @field_validator("cert_fingerprints")
    @classmethod
    def _fingerprints(cls, value: list[str]) -> list[str]:
        return sorted({normalize_fingerprint(item) for item in value})

    @field_validator("cert_subjects")
    @classmethod
    def _subjects(cls, value: list[str]) -> list[str]:
        out = []
        for item in value:
            try:
                out.append(x509.Name.from_rfc4514_string(item).rfc4514_string())
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an RFC 4514 distinguished name: {exc}") from None
        return sorted(set(out))

    @field_validator("jwe_public_key")
    @classmethod
    def _public_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            key = serialization.load_pem_public_key(value.encode())
        except ValueError:
            raise ValueError("not a PEM public key (-----BEGIN PUBLIC KEY-----)") from None
        if isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048:
            return value
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            return value
        raise ValueError("expected an RSA key of at least 2048 bits or an EC P-256 key")


def _row(row: Row | None) -> ApplicationCertificates:
    if row is None:
        return ApplicationCertificates()
    return ApplicationCertificates(
        cert_fingerprints=json_column(row["cert_fingerprints"]),
        cert_subjects=json_column(row["cert_subjects"]),
        jwe_public_key=row["jwe_public_key"],
    )


class CertificateRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, application_id: str) -> ApplicationCertificates:
        async with self._db.read() as conn:
            await fetch(conn, application_id)  # NotFound for an unknown application
            row = await conn.fetchrow(
                "SELECT * FROM application_certificates WHERE application_id = $1", application_id
            )
        return _row(row)

    async def all(self) -> dict[str, ApplicationCertificates]:
        async with self._db.read() as conn:
            rows = await conn.fetch("SELECT * FROM application_certificates")
        return {row["application_id"]: _row(row) for row in rows}

    async def put(self, actor: Actor, application_id: str, new: ApplicationCertificates) -> ApplicationCertificates:
        """Replaces the application's certificates and JWE key (audited as application.certificates)."""
        async with self._db.transaction() as conn:
            application = await fetch(conn, application_id)
            before = _row(
                await conn.fetchrow("SELECT * FROM application_certificates WHERE application_id = $1", application_id)
            )
            await conn.execute(
                "INSERT INTO application_certificates (application_id, cert_fingerprints, cert_subjects,"
                " jwe_public_key, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (application_id) DO UPDATE"
                " SET cert_fingerprints = $2, cert_subjects = $3, jwe_public_key = $4, updated_at = $5",
                application_id,
                orjson.dumps(new.cert_fingerprints).decode(),
                orjson.dumps(new.cert_subjects).decode(),
                new.jwe_public_key,
                now(),
            )
            await audit.record(
                conn,
                actor,
                "application.certificates",
                "application",
                application_id,
                tenant_id=application.tenant_id,
                before=before,
                after=new,
            )
        return new
