"""Value plumbing shared by checkpoints, IDMap keys and checksums.

- dumps/loads: JSON that keeps datetime, date, time, Decimal, bytes and UUID, for checkpoints and watermarks.
- key_text: the text form of a source key stored in the IDMap (one column: its text; several: a JSON list).
- row_hash: an order-independent checksum term over canonical column values; sums of terms mod 2**64 are
  compared between source and target, so both sides must canonicalize alike (see canonical()).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from decimal import Decimal
from typing import Any

import orjson

MASK = (1 << 64) - 1


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def _tag(value: Any) -> Any:
    # orjson would serialize datetimes natively but lose the type on the way back.
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, list | tuple):
        return [_tag(v) for v in value]
    if isinstance(value, dict):
        return {k: _tag(v) for k, v in value.items()}
    return value


def _untag(value: Any) -> Any:
    if isinstance(value, list):
        return [_untag(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((k, v),) = value.items()
            if k == "$dt":
                return dt.datetime.fromisoformat(v)
            if k == "$date":
                return dt.date.fromisoformat(v)
            if k == "$time":
                return dt.time.fromisoformat(v)
            if k == "$dec":
                return Decimal(v)
            if k == "$b64":
                return base64.b64decode(v)
            if k == "$uuid":
                return uuid.UUID(v)
        return {k: _untag(v) for k, v in value.items()}
    return value


def dumps(value: Any) -> str:
    return orjson.dumps(_tag(value), default=_default).decode()


def loads(text: str | None) -> Any:
    return None if text is None else _untag(orjson.loads(text))


def key_text(values: tuple[Any, ...] | list[Any]) -> str:
    if len(values) == 1:
        return scalar_text(values[0])
    return orjson.dumps([scalar_text(v) for v in values]).decode()


def scalar_text(value: Any) -> str:
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        return str(value).strip()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def canonical(value: Any, family: str) -> bytes:
    """Bytes that are equal for equal values, whichever driver produced them."""
    if value is None:
        return b"\x00"
    if family == "json":
        parsed = orjson.loads(value) if isinstance(value, str | bytes) else value
        return orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS)
    if family == "timestamptz" and isinstance(value, dt.datetime):
        moment: dt.datetime = value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)
        return moment.isoformat().encode()
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if family == "bool" and isinstance(value, int):
        return b"1" if value else b"0"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f").encode() if value == value else b"NaN"
    if isinstance(value, float):
        return repr(value).encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex().encode()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat().encode()
    return str(value).encode()


def row_hash(values: list[Any] | tuple[Any, ...], families: list[str]) -> int:
    h = hashlib.blake2b(digest_size=8)
    for value, family in zip(values, families, strict=True):
        c = canonical(value, family)
        h.update(len(c).to_bytes(4, "little"))
        h.update(c)
    return int.from_bytes(h.digest(), "little")
