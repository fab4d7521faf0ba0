"""Rate notations parsed once at load: "100/minute" (the `limits` notation) and "10MB/minute" for bandwidth.

`limits.parse` does the parsing; this module adds what an operator needs from a config error: a zero or
negative amount, a stray second rate or an unknown unit are refused with the expected shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import limits

from gateway.config.units import parse_size

RATE_EXPECTED = "expected <n>/<second|minute|hour|day|month|year> (or '<n> per <m> minutes') with n >= 1"
BYTES_EXPECTED = "expected <size>/<second|minute|hour|day> such as '10MB/minute', size >= 1 byte"
_BYTES = re.compile(r"^\s*([^/]+?)\s*/\s*(\d+\s*)?(second|minute|hour|day)s?\s*$")
_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True, slots=True)
class Rate:
    amount: int  # requests (or bytes) per window
    window: int  # seconds

    def __str__(self) -> str:
        return f"{self.amount}/{self.window}s"


def parse_rate(value: object) -> Rate:
    """A request rate; raises ValueError with the expected notation."""
    if not isinstance(value, str) or ";" in value or "," in value:
        raise ValueError(f"{value!r} is not a rate; {RATE_EXPECTED}")
    text = value.strip()
    if text.startswith("-"):
        raise ValueError(f"{value!r} is negative; {RATE_EXPECTED}")
    try:
        item = limits.parse(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a rate; {RATE_EXPECTED}") from None
    if item.amount < 1:
        raise ValueError(f"{value!r} allows no request; {RATE_EXPECTED} (use a blocking condition to deny)")
    return Rate(amount=int(item.amount), window=int(item.get_expiry()))


def parse_bytes_rate(value: object) -> Rate:
    """A bandwidth quota: bytes per window."""
    match = _BYTES.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a bandwidth quota; {BYTES_EXPECTED}")
    try:
        size = parse_size(match.group(1))
    except ValueError:
        raise ValueError(f"{value!r} is not a bandwidth quota; {BYTES_EXPECTED}") from None
    if size < 1:
        raise ValueError(f"{value!r} allows no byte; {BYTES_EXPECTED}")
    multiple = int(match.group(2) or 1)
    if multiple < 1:
        raise ValueError(f"{value!r} has an empty window; {BYTES_EXPECTED}")
    return Rate(amount=size, window=multiple * _SECONDS[match.group(3)])
