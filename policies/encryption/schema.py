from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.config.units import Size

KeyAlgorithm = Literal["RSA-OAEP-256", "ECDH-ES+A256KW"]


class JweConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    request: Literal["required", "optional", "off"] = Field(
        "required",
        description="Request bodies from consumers as compact JWE (Content-Type: application/jose), decrypted "
        "before the backend. required: any other body is refused (415); optional: plain bodies pass.",
    )
    response: Literal["encrypt", "off"] = Field(
        "encrypt",
        description="Encrypt response bodies to the calling application's jwe_public_key (Content-Type: "
        "application/jose). A call without an identified application holding a key is refused (403).",
    )
    private_key: str | None = Field(
        None,
        description="The gateway's decryption key for this API (RSA or EC P-256): a PEM file, or a value sealed "
        "with the master key (`splp certs seal --owner jwe:<api prefix> FILE`).",
    )
    backend_request: Literal["encrypt", "off"] = Field(
        "off", description="Reverse mode: encrypt the request body to backend_public_key before forwarding it."
    )
    backend_public_key: str | None = Field(None, description="PEM public key of the backend (backend_request).")
    backend_response: Literal["decrypt", "off"] = Field(
        "off", description="Reverse mode: the backend answers JWE, decrypted with private_key."
    )
    algorithms: tuple[KeyAlgorithm, ...] = Field(
        ("RSA-OAEP-256", "ECDH-ES+A256KW"),
        min_length=1,
        description="Key-management algorithms accepted on decryption; content encryption is always A256GCM.",
    )
    max_body_bytes: Size = Field(
        1024 * 1024, ge=1, description="This policy buffers whole bodies to decrypt/encrypt them: larger ones get 413."
    )

    @field_validator("private_key")
    @classmethod
    def _not_inline(cls, value: str | None) -> str | None:
        if value is not None and value.lstrip().startswith("-----BEGIN"):
            raise ValueError("give a PEM file path or a sealed value (splp certs seal), never the private key itself")
        return value

    @model_validator(mode="after")
    def _keys(self) -> JweConfig:
        needs_private = self.request != "off" or self.backend_response == "decrypt"
        if needs_private and self.private_key is None:
            raise ValueError("private_key is required to decrypt (request or backend_response)")
        if self.backend_request == "encrypt" and self.backend_public_key is None:
            raise ValueError("backend_request: encrypt requires backend_public_key")
        return self
