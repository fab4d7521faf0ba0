from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.config.model import HTTP_METHODS


class CorsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    allow_origins: tuple[str, ...] = Field(("*",), description="Allowed origins, or * for any.")
    allow_methods: tuple[str, ...] = Field(
        ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"), description="Methods a preflight may ask for."
    )
    allow_headers: tuple[str, ...] = Field(("*",), description="Request headers a preflight may ask for, or * for any.")
    expose_headers: tuple[str, ...] = Field((), description="Response headers the browser may read.")
    allow_credentials: bool = Field(False, description="Allow cookies/authorization; requires explicit origins.")
    max_age: int = Field(600, ge=0, le=86400, description="Seconds a browser may cache a preflight answer.")

    @field_validator("allow_methods")
    @classmethod
    def _methods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        methods = tuple(m.upper() for m in value)
        for method in methods:
            if method not in HTTP_METHODS:
                raise ValueError(f"{method!r} is not an HTTP method; expected one of {', '.join(HTTP_METHODS)}")
        return methods

    @field_validator("allow_credentials")
    @classmethod
    def _credentials(cls, value: bool, info: object) -> bool:
        origins = getattr(info, "data", {}).get("allow_origins", ())
        if value and "*" in origins:
            raise ValueError("allow_credentials requires explicit allow_origins, not *")
        return value
