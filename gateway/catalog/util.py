"""Small helpers shared by the repositories."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def now() -> str:
    """UTC now as fixed-width ISO 8601 text (sorts like time on both engines)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    return str(uuid.uuid4())


def placeholders(start: int, count: int) -> str:
    """`$start, $start+1, ...` for an IN list."""
    return ", ".join(f"${i}" for i in range(start, start + count))
