"""Throttling tiers (named quotas) shared by the catalog, subscriptions and the throttle policy.

WSO2 API Manager's default tiers are the embedded default, so an operator migrating from today's SPLP
knows them: subscription tiers Gold/Silver/Bronze/Unlimited, application tiers 10PerMin/20PerMin/50PerMin/
Unlimited. Owned by the throttling work (issue 5): extend freely, keep the `tiers` key of GatewayConfig.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.config.rates import parse_rate


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: str | None = Field(
        None, description='Request quota in limits notation, e.g. "5000/minute"; null = unlimited.'
    )
    burst: str | None = Field(None, description='Short-window cap on top of the quota, e.g. "100/second".')
    description: str = Field("", description="What the tier is for.")

    @field_validator("requests", "burst")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rate(value)
        return value


def _tiers(**quotas: str | None) -> dict[str, Tier]:
    return {name: Tier(requests=quota) for name, quota in quotas.items()}


class TiersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subscription: dict[str, Tier] = Field(
        default_factory=lambda: _tiers(Gold="5000/minute", Silver="2000/minute", Bronze="1000/minute", Unlimited=None),
        description="Tiers a subscription (application x API) can have.",
    )
    application: dict[str, Tier] = Field(
        default_factory=lambda: _tiers(
            **{"10PerMin": "10/minute", "20PerMin": "20/minute", "50PerMin": "50/minute", "Unlimited": None}
        ),
        description="Tiers an application can have, across all its APIs.",
    )


TierOverride = tuple[str, str, Tier]  # (kind: subscription | application, name, tier)


def with_overrides(base: TiersConfig, overrides: Iterable[TierOverride]) -> TiersConfig:
    """`base` with each override replacing the tier of the same kind and name, or added."""
    merged = {"subscription": dict(base.subscription), "application": dict(base.application)}
    for kind, name, tier in overrides:
        merged[kind][name] = tier
    return TiersConfig(**merged)
