"""Human notations in config files, parsed once at load: durations ("30s", "500ms") and sizes ("16KiB")."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$")
_SIZE_UNITS = {
    None: 1,
    "B": 1,
    "KB": 1000,
    "KiB": 1024,
    "MB": 1000**2,
    "MiB": 1024**2,
    "GB": 1000**3,
    "GiB": 1024**3,
}


def parse_duration(value: object) -> float:
    """Seconds from 30, 2.5, "30s", "500ms", "2m", "1h", "30d"."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; expected a number of seconds or e.g. '500ms', '30s', '2m'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration; expected a number of seconds or e.g. '500ms', '30s', '2m'")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError(f"{value!r} is negative; expected a duration >= 0")
    return seconds


def parse_size(value: object) -> int:
    """Bytes from 1024, "16KiB", "10MB"."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size; expected bytes or e.g. '16KiB', '10MB'")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a size; expected bytes or e.g. '16KiB', '10MB'")
        size = int(match.group(1)) * _SIZE_UNITS[match.group(2)]
    if size < 0:
        raise ValueError(f"{value!r} is negative; expected a size >= 0")
    return size


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]
