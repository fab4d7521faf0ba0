from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.config.model import ResourceConfig
from gateway.config.units import Duration, Size

IdentityField = Literal["application", "subject", "username", "tenant", "scopes", "key_manager", "issuer"]


class BackendJwtConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(False, description="Send a signed JWT of the caller to the backend (WSO2 backend JWT).")
    header: str = Field("X-JWT-Assertion", description="Header carrying it.")
    ttl: Duration = Field(300.0, gt=0, description="Lifetime of the assertion (never past the token's).")


class AuthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key_managers: tuple[str, ...] = Field(
        (), description="Names of the key managers whose credentials this API accepts; empty: all declared."
    )
    audience: tuple[str, ...] = Field(
        (),
        description="`aud` values this API accepts, whichever key manager issued the token (one must be in the "
        "token's aud; API keys have none and are not checked); empty: each key manager's own audience rule.",
    )
    opaque_order: tuple[str, ...] = Field(
        (),
        description="Introspection key managers asked about a non-JWT bearer token, in this order; the first "
        "that says active wins. Required when the API accepts more than one introspection key manager.",
    )
    subscription_required: bool = Field(
        True, description="The application must hold an active subscription to this API."
    )
    scopes: dict[str, tuple[str, ...]] = Field(
        {}, description='Scopes required per resource, keyed like the API resources: {"GET /pegawai/{nip}": [read]}.'
    )
    identity_headers: dict[str, IdentityField] = Field(
        {"X-Consumer-Application": "application", "X-Consumer-Subject": "subject", "X-Consumer-Tenant": "tenant"},
        description="Headers sent to the backend with the caller's identity; client copies are removed.",
    )
    forward_credentials: bool = Field(
        False, description="Pass the consumer's Authorization header / API key on to the backend."
    )
    backend_jwt: BackendJwtConfig = Field(default_factory=BackendJwtConfig, description="Signed caller assertion.")
    max_token_bytes: Size = Field(8192, ge=256, le=65536, description="Longer bearer tokens are refused (401).")
    enforce: bool = Field(True, description="false: shadow mode, verdicts are logged but requests continue.")

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for key in value:
            ResourceConfig.model_validate(key)  # same notation as API resources: "GET,POST /path"
        return value
