"""Ready-made row transforms for jobs (`transform: gateway.etl.transforms:<name>`), and the shape to copy.

A row transform takes (row, ctx) and returns the row to map, or None to skip it (counted as skipped).
A batch transform takes (rows, ctx) and returns one row or None per input row.
"""

from __future__ import annotations

import re
from typing import Any

_SPACES = re.compile(r"\s+")


def strip_strings(row: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Trim every text value and collapse inner runs of whitespace; empty strings become NULL."""
    out = {}
    for k, v in row.items():
        if isinstance(v, str):
            v = _SPACES.sub(" ", v).strip() or None
        out[k] = v
    return out


def skip_blank(row: dict[str, Any], ctx: Any) -> dict[str, Any] | None:
    """Skips rows whose values are all empty (trailing lines of exported spreadsheets)."""
    return None if all(v is None or (isinstance(v, str) and not v.strip()) for v in row.values()) else row


def normalize_phone_id(row: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Indonesian phone numbers to +62 form in the `phone` field: 0812-3456-789 -> +628123456789."""
    phone = row.get("phone")
    if isinstance(phone, str):
        digits = re.sub(r"\D", "", phone)
        if digits.startswith("0"):
            digits = "62" + digits[1:]
        row = {**row, "phone": "+" + digits if digits else None}
    return row
