"""Errors the catalog store raises; the control API maps each to one HTTP status."""

from __future__ import annotations

from typing import Any


class CatalogError(Exception):
    """Base of every catalog error."""


class StoreConfigError(CatalogError):
    """The store URI or the database cannot be used (bad scheme, schema newer than this code)."""


class NotFound(CatalogError):
    """No such object (or not visible to the caller: the API never tells the two apart)."""


class Conflict(CatalogError):
    """A unique key is taken, or the change contradicts the current state (e.g. a tenant with children).
    `extra` holds machine-readable details the control API adds to the problem (e.g. `allowed` actions)."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.extra = extra


class Forbidden(CatalogError):
    """The caller's role allows the action but a rule of the store forbids it to this caller (the
    four-eyes rule: nobody approves their own request)."""


class Invalid(CatalogError):
    """A value passed the field checks but breaks a rule that needs the store (e.g. an unknown parent).

    `problems` lists every field problem when there are several ({"loc": [...], "msg", "type"}, the
    locations relative to the request body); else the one `field` and `message` describe it."""

    def __init__(self, field: str, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.problems = problems or [{"loc": [field], "msg": message, "type": "value_error"}]
