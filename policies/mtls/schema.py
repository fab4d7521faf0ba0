from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.config.tls import normalize_fingerprint


class MtlsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["required", "optional", "off"] = Field(
        "required",
        description="required: no verified client certificate, no call (401). optional: a certificate, when "
        "sent, is checked and identifies the application. off: certificates are ignored.",
    )
    issuers: tuple[str, ...] = Field(
        (),
        description="PEM CA files whose certificates this API accepts (a subset of the listener's client_ca); "
        "empty: every CA the listener trusts.",
    )
    issuers_from_tenant: bool = Field(
        False, description="Accept the CAs listed for the API's tenant in the listener's tenant_client_ca."
    )
    revoked: tuple[str, ...] = Field((), description="SHA-256 fingerprints of revoked client certificates (403).")
    require_application: bool = Field(
        False, description="The certificate must be registered to an application (cert_fingerprints/cert_subjects)."
    )
    forward: Literal["none", "cert"] = Field(
        "none", description="cert: send the verified certificate to the backend in the RFC 9440 Client-Cert header."
    )

    @field_validator("revoked")
    @classmethod
    def _revoked(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(normalize_fingerprint(item) for item in value)
