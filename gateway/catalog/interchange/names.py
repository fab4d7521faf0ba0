"""Turning names from a definition into catalog values: slugs, versions, tags, backend URLs."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError

from gateway.catalog.api_models import Tag

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_NOT_VERSION = re.compile(r"[^A-Za-z0-9._-]+")
_NOT_TAG = re.compile(r"[^a-z0-9._ -]+")
_TAG = TypeAdapter(Tag)
MAX_TAGS = 20


def slug(text: str, default: str = "api") -> str:
    """`Number Conversion Service` -> `number-conversion-service` (a context segment)."""
    value = _NOT_SLUG.sub("-", text.lower()).strip("-")[:60].strip("-")
    return value or default


def version(text: object) -> str:
    """info.version as a gateway version segment: `1.0.0` stays, `2024 beta` -> `2024-beta`, none -> v1."""
    value = _NOT_VERSION.sub("-", str(text or "")).lstrip("._-")[:50].rstrip(".")
    return value if value and value not in (".", "..") else "v1"


def tags(names: list[object]) -> tuple[str, ...]:
    """Catalog tags from definition tags: lowercased, odd characters dropped, at most 20, unusable ones skipped."""
    found: list[str] = []
    for name in names:
        if not isinstance(name, str):
            continue
        cleaned = _NOT_TAG.sub("", name.strip().lower()).strip(" .-_")[:50].strip(" .-_")
        try:
            tag = _TAG.validate_python(cleaned)
        except ValidationError:
            continue
        if tag not in found:
            found.append(tag)
        if len(found) == MAX_TAGS:
            break
    return tuple(found)


def backend_url(url: str) -> str | None:
    """An absolute http(s) URL without query or fragment (trailing / dropped), else None."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return None
    if parts.username or parts.password:
        return None
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return None
    return url.strip().rstrip("/")
