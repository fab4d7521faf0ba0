from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Framing and connection headers belong to the gateway: letting config touch them invites smuggling.
PROTECTED = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
    }
)


def _check_name(name: str) -> str:
    if not _TOKEN.match(name):
        raise ValueError(f"{name!r} is not a header name; expected letters, digits and !#$%&'*+.^_`|~-")
    if name.lower() in PROTECTED:
        raise ValueError(f"{name!r} is managed by the gateway and cannot be changed by policy")
    return name


def _check_value(value: str) -> str:
    if any(c in value for c in "\r\n\x00"):
        raise ValueError(f"{value!r} contains CR, LF or NUL")
    return value


class HeaderEdits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    remove: tuple[str, ...] = Field((), description="Header names to remove.")
    rename: dict[str, str] = Field({}, description="old-name: new-name; values are kept.")
    set: dict[str, str] = Field({}, description="name: value; replaces any existing value.")
    add: dict[str, str] = Field({}, description="name: value; appended, existing values stay.")

    @field_validator("remove")
    @classmethod
    def _remove(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_name(n) for n in value)

    @field_validator("rename")
    @classmethod
    def _rename(cls, value: dict[str, str]) -> dict[str, str]:
        return {_check_name(k): _check_name(v) for k, v in value.items()}

    @field_validator("set", "add")
    @classmethod
    def _values(cls, value: dict[str, str]) -> dict[str, str]:
        return {_check_name(k): _check_value(str(v)) for k, v in value.items()}


class HeadersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    request: HeaderEdits = Field(default_factory=HeaderEdits, description="Edits to the request sent to the backend.")
    response: HeaderEdits = Field(default_factory=HeaderEdits, description="Edits to the response sent to the client.")

    @model_validator(mode="after")
    def _something(self) -> HeadersConfig:
        if self.request == HeaderEdits() and self.response == HeaderEdits():
            raise ValueError("no edits; expected request and/or response with remove, rename, set or add")
        return self
