"""Applications and subscriptions declared in conf/ (until the catalog issue stores them).

Owned by the key-manager work (issue 4): extend freely, keep the `applications` and `subscriptions`
keys of GatewayConfig. Secrets never appear in clear: only hashes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ApplicationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="Application id (the OAuth client id of the resident key manager).")
    name: str = Field("", description="Human name.")
    tenant: str = Field(min_length=1, description="Institution (tenant) that owns the application.")
    owner: str = Field("", description="User who owns it.")
    tier: str = Field("Unlimited", description="Application tier (tiers.application).")
    blocked: bool = Field(False, description="A blocked application is refused everywhere (403).")
    key_managers: tuple[str, ...] = Field(
        ("resident",),
        min_length=1,
        description="Key managers whose tokens may speak for this application (for example an IdP's JWTs "
        "and its opaque tokens introspected at the same IdP). `key_manager: name` is the one-name shorthand.",
    )
    client_secret_hash: str | None = Field(
        None, description="scrypt hash of the OAuth client secret (python -m keymanager.hashing secret)."
    )
    grant_types: tuple[Literal["client_credentials", "password", "refresh_token"], ...] = Field(
        ("client_credentials",), description="Grants the resident token endpoint allows this application."
    )
    scopes: tuple[str, ...] = Field((), description="Scopes the application may be granted.")
    api_keys: tuple[str, ...] = Field(
        (), description="API keys as sha256:<hex> hashes (python -m keymanager.hashing apikey)."
    )

    @model_validator(mode="before")
    @classmethod
    def _one_key_manager(cls, value: Any) -> Any:
        """`key_manager: kc` (the earlier one-name form) means `key_managers: [kc]`."""
        if isinstance(value, dict) and "key_manager" in value:
            if "key_managers" in value:
                raise ValueError("give key_managers (a list) or key_manager (one name), not both")
            value = {k: v for k, v in value.items() if k != "key_manager"} | {"key_managers": [value["key_manager"]]}
        return value


class SubscriptionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    application: str = Field(min_length=1, description="Application id.")
    api: str = Field(min_length=1, description="API prefix (context/version), e.g. /bappenas/pegawai/v1.")
    tier: str = Field("Unlimited", description="Subscription tier (tiers.subscription).")
    status: Literal["active", "blocked"] = Field("active", description="A blocked subscription is refused (403).")
