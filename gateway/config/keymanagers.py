"""Key managers declared in conf/ (`key_managers:` in gateway.yaml): who may issue the tokens the gateway accepts.

Four types, each with a unique `name` that APIs refer to from their `auth` policy:
  resident       the gateway's own OAuth2 server (/oauth2/token, /oauth2/jwks, ...); at most one
  jwt            an external issuer whose JWTs are verified against its JWKS (URL or OIDC discovery)
  introspection  an external server asked about opaque tokens (RFC 7662)
  apikey         API keys of the declared applications, in a header or a query parameter
Secrets never appear in clear: client secrets and passwords as scrypt hashes, API keys as sha256 hashes
(`python -m keymanager.hashing` prints them).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from gateway.config.units import Duration

ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not a key manager name; expected 1-64 letters, digits, ._- ")
    return value


def _check_algorithms(value: tuple[str, ...]) -> tuple[str, ...]:
    for alg in value:
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise ValueError(
                f"{alg!r} is not an accepted algorithm; expected one of {', '.join(ASYMMETRIC_ALGORITHMS)}"
                " (none and HS* are refused: a shared secret cannot be published in a JWKS)"
            )
    if not value:
        raise ValueError("no algorithm; expected at least one")
    return value


Name = Annotated[str, AfterValidator(_check_name)]
Algorithms = Annotated[tuple[str, ...], AfterValidator(_check_algorithms)]


class ClaimMapping(_Strict):
    client_id: tuple[str, ...] = Field(
        ("client_id", "azp"), description="Claims holding the application (client) id, first present wins."
    )
    scope: str = Field("scope", description="Claim holding the scopes (space-separated string or list).")
    tenant: str | None = Field(None, description="Claim holding the tenant; else the key manager's tenant.")
    username: str = Field("preferred_username", description="Claim holding the end user's name, if any.")


class UserConfig(_Strict):
    username: str = Field(min_length=1, description="Login name for the password grant.")
    password_hash: str = Field(description="scrypt hash (python -m keymanager.hashing password).")
    tenant: str = Field(min_length=1, description="Institution of the user.")
    scopes: tuple[str, ...] = Field((), description="Scopes the user may hold (intersected with the app's).")
    blocked: bool = Field(False, description="A blocked user gets no token and their tokens are refused (403).")


class ResidentConfig(_Strict):
    type: Literal["resident"]
    name: Name = Field("resident", description="Name APIs use to accept this key manager.")
    issuer: str = Field("urn:splp:resident", description="`iss` of issued tokens; also the discovery issuer.")
    audience: str = Field(
        "urn:splp:gateway",
        min_length=1,
        description="`aud` of every issued access token (RFC 9068), required on validation.",
    )
    subscribed_audience: bool = Field(
        False,
        description="Also put the prefixes of the APIs the application is subscribed to in `aud` when the token is "
        "issued; an API that requires a subscription then requires its own prefix there (subscribe, then ask "
        "for the token).",
    )
    algorithm: Literal["RS256", "ES256"] = Field("RS256", description="Signing algorithm of new keys.")
    key_file: str = Field("var/splp/keys.json", description="Signing keys, private parts encrypted (PKCS#8).")
    passphrase_env: str = Field(
        "SPLP_KEY_PASSPHRASE",
        description="Env var with the key-file passphrase; unset: a random one in <key_file>.pass (mode 0600).",
    )
    access_token_ttl: Duration = Field(3600.0, gt=0, description="Lifetime of access tokens.")
    refresh_token_ttl: Duration = Field(86400.0, gt=0, description="Lifetime of refresh tokens.")
    rotate_after: Duration = Field(
        30 * 86400.0, gt=0, description="Age after which a new signing key is made (checked at load)."
    )
    overlap: Duration = Field(
        86400.0, ge=0, description="How long a retired key stays in the JWKS so tokens it signed stay valid."
    )
    leeway: Duration = Field(30.0, ge=0, le=300, description="Clock skew allowed on exp/nbf/iat.")
    users: tuple[UserConfig, ...] = Field((), description="End users for the password grant (until the catalog).")


class JwtConfig(_Strict):
    type: Literal["jwt"]
    name: Name = Field(description="Name APIs use to accept this key manager.")
    issuer: str = Field(min_length=1, description="Exact `iss` of its tokens: routes a token here.")
    jwks_url: str | None = Field(None, description="JWKS document URL.")
    discovery_url: str | None = Field(None, description="OIDC discovery URL (.well-known/openid-configuration).")
    jwks_file: str | None = Field(
        None, description="A JWKS document on disk, read at load (keys handed over out of band; no fetching)."
    )
    algorithms: Algorithms = Field(("RS256",), description="Accepted `alg` values (never taken from tokens).")
    audience: tuple[str, ...] = Field((), description="Accepted `aud` values; empty: `aud` not checked.")
    tenant: str | None = Field(None, description="Tenant that registered it: only its applications may use it.")
    leeway: Duration = Field(30.0, ge=0, le=300, description="Clock skew allowed on exp/nbf/iat.")
    refresh_interval: Duration = Field(600.0, gt=0, description="Scheduled JWKS refresh period.")
    refetch_cooldown: Duration = Field(30.0, ge=0, description="Minimum time between fetches on an unknown kid.")
    fetch_timeout: Duration = Field(5.0, gt=0, description="Timeout of one JWKS or discovery fetch.")
    claims: ClaimMapping = Field(default_factory=ClaimMapping, description="Where identity claims live.")

    @model_validator(mode="after")
    def _source(self) -> JwtConfig:
        if sum(source is not None for source in (self.jwks_url, self.discovery_url, self.jwks_file)) != 1:
            raise ValueError("exactly one of jwks_url, discovery_url or jwks_file is required")
        return self


class IntrospectionConfig(_Strict):
    type: Literal["introspection"]
    name: Name = Field(description="Name APIs use to accept this key manager.")
    url: str = Field(description="RFC 7662 introspection endpoint.")
    client_id: str = Field(description="Client id the gateway authenticates with (HTTP Basic).")
    client_secret: str = Field(description="Its secret; use ${ENV} interpolation, never a literal in git.")
    issuer: str | None = Field(None, description="Expected `iss` in answers, when the server sends one.")
    audience: tuple[str, ...] = Field(
        (), description="Accepted `aud` values of active tokens (one must be in the answer's aud); empty: not checked."
    )
    tenant: str | None = Field(None, description="Tenant that registered it: only its applications may use it.")
    cache_ttl: Duration = Field(300.0, ge=0, description="Upper bound of the positive cache (also bounded by exp).")
    negative_ttl: Duration = Field(10.0, ge=0, description="How long an inactive answer is remembered.")
    timeout: Duration = Field(5.0, gt=0, description="Timeout of one introspection call.")
    claims: ClaimMapping = Field(default_factory=ClaimMapping, description="Where identity members live.")


class ApiKeyConfig(_Strict):
    type: Literal["apikey"]
    name: Name = Field("apikey", description="Name APIs use to accept this key manager.")
    header: str | None = Field("apikey", description="Request header carrying the key (null: no header).")
    query: str | None = Field(None, description="Query parameter carrying the key (null: none).")

    @model_validator(mode="after")
    def _where(self) -> ApiKeyConfig:
        if not self.header and not self.query:
            raise ValueError("an API key needs a header or a query parameter")
        return self


KeyManagerConfig = Annotated[
    ResidentConfig | JwtConfig | IntrospectionConfig | ApiKeyConfig, Field(discriminator="type")
]


def check_key_managers(value: tuple[KeyManagerConfig, ...]) -> tuple[KeyManagerConfig, ...]:
    if sum(km.type == "resident" for km in value) > 1:
        raise ValueError("at most one resident key manager")
    names: set[str] = set()
    issuers: set[str] = set()
    for km in value:
        if km.name in names:
            raise ValueError(f"key manager name {km.name!r} is used twice")
        names.add(km.name)
        issuer = getattr(km, "issuer", None)
        if km.type in ("resident", "jwt") and issuer:
            if issuer in issuers:
                raise ValueError(f"issuer {issuer!r} is declared by two key managers; a token's iss must pick one")
            issuers.add(issuer)
    return value
