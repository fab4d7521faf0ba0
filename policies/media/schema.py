from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.config.units import Duration, Size

_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/([a-z0-9][a-z0-9!#$&^_.+-]*|\*)$")


class BandwidthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rate: Size = Field(gt=0, description="Bytes per second per transfer and direction, e.g. '10MiB'.")
    burst: Size = Field(1024 * 1024, gt=0, description="Bytes a transfer may move at once before the rate applies.")


class MediaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_types: tuple[str, ...] = Field(
        (),
        description="Media types an upload may declare in Content-Type, e.g. image/png or image/*; the body's "
        "first bytes must match the declared type's signature. Empty: any type (the signature check still runs).",
    )
    deny_executables: bool = Field(True, description="Refuse uploads whose first bytes are an executable (PE, ELF...).")
    max_body_size: Size = Field(
        100 * 1024 * 1024,
        ge=0,
        description="Largest request body for this API (413 as soon as it is crossed, upstream reset); replaces "
        "gateway.limits.max_body_size.",
    )
    idle_timeout: Duration = Field(
        60.0,
        gt=0,
        description="Longest time without a byte in either direction; replaces the total backend timeout and the "
        "request-body timeout, so a long transfer is bounded by silence, not by its length.",
    )
    digest: Literal["verify", "require", "off"] = Field(
        "verify",
        description="Content-Digest (RFC 9530, sha-256/sha-512) on uploads: verify it when sent (a mismatch "
        "resets the upstream before the last bytes and answers 400), require it, or ignore it.",
    )
    max_ranges: int = Field(
        16,
        ge=1,
        le=1000,
        description="A Range asking for more ranges is dropped (with If-Range): the backend sends the whole "
        "body (200), as nginx does, instead of being asked to cut thousands of pieces.",
    )
    bandwidth: BandwidthConfig | None = Field(None, description="Per-transfer rate limit (the bandwidth quota hook).")

    @field_validator("allowed_types")
    @classmethod
    def _types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        types = tuple(t.strip().lower() for t in value)
        for media_type in types:
            if not _MEDIA_TYPE.match(media_type):
                raise ValueError(f"{media_type!r} is not a media type; expected type/subtype or type/*")
        return types
