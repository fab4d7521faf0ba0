"""Throttle policy config: the six levels, bandwidth and concurrency, every field described.

Rates use the `limits` notation ("100/minute", "10 per 2 minutes"); bandwidth uses a size per window
("10MB/minute"). Both are parsed here, at load, into (amount, window seconds).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.config.model import HTTP_METHODS
from gateway.config.rates import Rate, parse_bytes_rate, parse_rate

Strategy = Literal["fixed-window", "sliding-window", "moving-window"]
OnError = Literal["local", "open", "closed"]
_PER = re.compile(r"^(api|ip|application|user|tenant|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+)$")
PER_EXPECTED = "expected api, ip, application, user, tenant or header:<Header-Name>"
_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _rates(value: Any) -> tuple[Rate, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    if not items:
        raise ValueError("no rate; expected a rate such as '100/minute' or a list of them")
    return tuple(parse_rate(item) for item in items)


def _check_per(value: str) -> str:
    if not _PER.match(value):
        raise ValueError(f"{value!r} is not a key; {PER_EXPECTED}")
    return value


def _networks(value: tuple[str, ...]) -> tuple[str, ...]:
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR range, e.g. 10.1.0.0/16") from None
    return value


class Condition(Strict):
    """All given tests must hold (AND); inside one test, any listed value matches (OR for ip)."""

    ip: tuple[str, ...] = Field((), description="Client addresses or CIDR ranges, e.g. 10.0.0.0/8.")
    header: dict[str, str] = Field({}, description="Request header name: exact value.")
    query: dict[str, str] = Field({}, description="Query parameter name: exact value.")
    claim: dict[str, str] = Field({}, description="JWT claim of the authenticated principal: exact value.")
    invert: bool = Field(False, description="Apply the limit when the condition does NOT hold.")

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _networks(value)

    @model_validator(mode="after")
    def _something(self) -> Condition:
        if not (self.ip or self.header or self.query or self.claim):
            raise ValueError("empty condition; expected at least one of ip, header, query, claim")
        return self


class _Limited(Strict):
    limit: tuple[Rate, ...] = Field(description="Rate(s) in limits notation, e.g. '100/minute' or a list.")
    strategy: Strategy | None = Field(None, description="Counting strategy; default: the policy's strategy.")
    on_error: OnError | None = Field(None, description="When Redis is down; default: the policy's on_error.")

    @field_validator("limit", mode="before")
    @classmethod
    def _limit(cls, value: Any) -> tuple[Rate, ...]:
        return _rates(value)


class ApiLimit(_Limited):
    """Level 3: an advanced policy on the whole API or one resource, optionally with conditions."""

    name: str = Field(min_length=1, max_length=64, description="Policy name, shown in headers and errors.")
    resource: str | None = Field(None, description="'METHOD[,METHOD] /template' of one resource; none: whole API.")
    per: str = Field("api", description=f"Who shares one counter; {PER_EXPECTED}.")
    when: Condition | None = Field(None, description="Apply only to requests matching this condition.")

    @field_validator("per")
    @classmethod
    def _per(cls, value: str) -> str:
        return _check_per(value)

    @field_validator("resource")
    @classmethod
    def _resource(cls, value: str | None) -> str | None:
        if value is None:
            return None
        method, _, path = value.strip().partition(" ")
        methods = [m.strip().upper() for m in method.split(",")]
        if not path.strip().startswith("/") or any(m != "ANY" and m not in HTTP_METHODS for m in methods):
            raise ValueError(f"{value!r} is not a resource; expected 'GET /path/{{param}}' as in the API's resources")
        return f"{','.join(methods)} {path.strip()}"


class GlobalLimit(ApiLimit):
    """Level 5: a custom policy across every API (e.g. per client IP, per tenant)."""

    per: str = Field("ip", description=f"Who shares one counter across all APIs; {PER_EXPECTED}.")


class TierLevel(Strict):
    enabled: bool = Field(True, description="Apply this level.")
    default_tier: str = Field("Unlimited", description="Tier of a caller with no subscription/application entry.")
    on_error: OnError | None = Field(None, description="When Redis is down; default: the policy's on_error.")


class ApplicationLevel(TierLevel):
    per_user: bool = Field(False, description="Count per end user of the application (WSO2 per-user app tiers).")


class BackendLevel(Strict):
    """Level 4: what the API's backend can take, whoever calls."""

    limit: tuple[Rate, ...] | None = Field(None, description="Max rate forwarded to the backend, e.g. '1000/minute'.")
    max_in_flight: int | None = Field(None, ge=1, description="Max concurrent requests at the backend, per worker.")
    on_error: OnError | None = Field(None, description="When Redis is down; default: the policy's on_error.")

    @field_validator("limit", mode="before")
    @classmethod
    def _limit(cls, value: Any) -> tuple[Rate, ...] | None:
        return None if value is None else _rates(value)

    @model_validator(mode="after")
    def _something(self) -> BackendLevel:
        if self.limit is None and self.max_in_flight is None:
            raise ValueError("empty backend level; expected limit and/or max_in_flight")
        return self


class BandwidthLevel(Strict):
    """Bytes per window (request + response bodies), e.g. for media APIs."""

    limit: Rate = Field(description="Bytes per window, e.g. '10MB/minute'.")
    per: str = Field("application", description=f"Who shares one quota; {PER_EXPECTED}.")
    on_error: OnError | None = Field(None, description="When Redis is down; default: the policy's on_error.")

    @field_validator("limit", mode="before")
    @classmethod
    def _limit(cls, value: Any) -> Rate:
        return parse_bytes_rate(value)

    @field_validator("per")
    @classmethod
    def _per(cls, value: str) -> str:
        return _check_per(value)


class BlockLevel(Strict):
    """Level 6: deny at once with 403 (code 900805)."""

    apis: tuple[str, ...] = Field((), description="API prefixes (context/version), e.g. /bappenas/pegawai/v1.")
    applications: tuple[str, ...] = Field((), description="Application ids.")
    users: tuple[str, ...] = Field((), description="End users (principal subject or user header).")
    tenants: tuple[str, ...] = Field((), description="Tenants (institutions) of the caller.")
    ips: tuple[str, ...] = Field((), description="Client addresses or CIDR ranges.")

    @field_validator("ips")
    @classmethod
    def _ips(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _networks(value)


class ThrottleConfig(Strict):
    enforce: bool = Field(True, description="false: shadow mode; verdicts are computed, counted, logged, not applied.")
    strategy: Strategy = Field("fixed-window", description="Default counting strategy for every level.")
    on_error: OnError = Field(
        "local",
        description="When Redis is unreachable: local (a per-node share of each limit, counted in memory), "
        "open (no limit), closed (refuse with 503).",
    )
    cluster_nodes: int = Field(1, ge=1, le=1024, description="Gateway workers sharing Redis; sizes the local share.")
    key_prefix: str = Field("throttle", description="Counter key prefix (letters, digits, _.-).")
    application_header: str | None = Field(
        None, description="Request header naming the application when no auth policy has set one."
    )
    user_header: str | None = Field(None, description="Request header naming the end user when no principal is set.")
    headers: bool = Field(True, description="Add RateLimit-Policy, RateLimit and X-RateLimit-* response headers.")
    subscription: TierLevel | None = Field(None, description="Level 1: subscription tier (application x API).")
    application: ApplicationLevel | None = Field(None, description="Level 2: application tier across its APIs.")
    api: tuple[ApiLimit, ...] = Field((), description="Level 3: advanced policies on the API or its resources.")
    backend: BackendLevel | None = Field(None, description="Level 4: backend protection.")
    global_: tuple[GlobalLimit, ...] = Field((), alias="global", description="Level 5: custom policies across APIs.")
    block: BlockLevel | None = Field(None, description="Level 6: blocking conditions (403).")
    bandwidth: BandwidthLevel | None = Field(None, description="Bytes per window.")

    @field_validator("key_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _PREFIX.match(value):
            raise ValueError(f"{value!r} is not a key prefix; expected 1-64 letters, digits, _ . -")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> ThrottleConfig:
        names = [p.name for p in self.api] + [p.name for p in self.global_]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"policy names must be unique across api and global; repeated: {', '.join(twice)}")
        return self
