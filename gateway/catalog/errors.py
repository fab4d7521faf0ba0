"""Errors the catalog store raises; the control API maps each to one HTTP status."""

from __future__ import annotations


class CatalogError(Exception):
    """Base of every catalog error."""


class StoreConfigError(CatalogError):
    """The store URI or the database cannot be used (bad scheme, schema newer than this code)."""


class NotFound(CatalogError):
    """No such object (or not visible to the caller: the API never tells the two apart)."""


class Conflict(CatalogError):
    """A unique key is taken, or the change contradicts the current state (e.g. a tenant with children)."""


class Invalid(CatalogError):
    """A value passed the field checks but breaks a rule that needs the store (e.g. an unknown parent)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
