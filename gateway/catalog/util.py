"""Small helpers shared by the repositories."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson


def stamp(moment: datetime) -> str:
    """A UTC datetime as the store's time text: fixed-width ISO 8601 (sorts like time on both engines)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now() -> str:
    return stamp(datetime.now(UTC))


def new_id() -> str:
    return str(uuid.uuid4())


def placeholders(start: int, count: int) -> str:
    """`$start, $start+1, ...` for an IN list."""
    return ", ".join(f"${i}" for i in range(start, start + count))


def json_column(value: Any) -> Any:
    """A JSON column as Python: PostgreSQL (asyncpg) hands it over as text, SQLite as text or decoded."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value
