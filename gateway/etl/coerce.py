"""Convert values to what a target column accepts, row by row, with reasons a person can act on.

Types are read as families ("int", "bool", "decimal", "text", "timestamptz"...). The MySQL -> PostgreSQL
value rules live here (the type mapping for DDL is in ddl.py): tinyint(1) is boolean, zero dates are NULL
(or a rejection in NOT NULL columns), naive DATETIME values are wall-clock time in the source connection's
zone, TIMESTAMP values are UTC, enums and sets are text, NUL characters are refused (PostgreSQL text cannot
hold them), decimals are rounded to the column's scale as PostgreSQL stores them.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from .errors import RowError
from .metadata import Column

Converter = Callable[[Any], Any]

_INT_BITS = {
    "smallint": 16,
    "int2": 16,
    "integer": 32,
    "int": 32,
    "int4": 32,
    "mediumint": 32,
    "bigint": 64,
    "int8": 64,
    "serial": 32,
    "bigserial": 64,
    "smallserial": 16,
    "tinyint": 16,
    "year": 32,
}
_ZERO_DATES = ("0000-00-00", "0000-00-00 00:00:00")
_TRUE = {"1", "true", "t", "yes", "y", "on", "ya"}
_FALSE = {"0", "false", "f", "no", "n", "off", "tidak"}


def family(type_: str) -> str:
    t = type_.lower().strip()
    base = re.split(r"[\s(]", t, maxsplit=1)[0]
    if t.startswith("tinyint(1)") or base in ("boolean", "bool") or t in ("bit", "bit(1)"):
        return "bool"
    if base in _INT_BITS or base == "integer":
        return "int"
    if base in ("numeric", "decimal", "dec", "fixed", "money"):
        return "decimal"
    if base in ("real", "double", "float", "float4", "float8"):
        return "float"
    if t.startswith("timestamp with time zone") or base == "timestamptz":
        return "timestamptz"
    if base in ("timestamp", "datetime"):
        return "timestamp"
    if base == "date":
        return "date"
    if base in ("time",):
        return "time"
    if base in ("json", "jsonb"):
        return "json"
    if base in ("bytea", "blob", "tinyblob", "mediumblob", "longblob", "binary", "varbinary"):
        return "bytes"
    if base == "uuid":
        return "uuid"
    if base in (
        "character",
        "char",
        "varchar",
        "text",
        "tinytext",
        "mediumtext",
        "longtext",
        "enum",
        "set",
        "citext",
        "clob",
        "nvarchar",
        "nchar",
        "string",
        "bpchar",
    ) or t.startswith("character varying"):
        return "text"
    return "other"


def _length(type_: str) -> int | None:
    m = re.search(r"(?:char|varchar|character varying|character)\s*\((\d+)\)", type_.lower())
    return int(m.group(1)) if m else None


def _precision(type_: str) -> tuple[int, int] | None:
    m = re.search(r"\((\d+)\s*(?:,\s*(\d+))?\)", type_)
    return (int(m.group(1)), int(m.group(2) or 0)) if m else None


def source_zone(source_type: str | None, source_dialect: str, zone: str) -> dt.tzinfo:
    """The zone a naive datetime read from this source column is in."""
    if source_dialect == "mysql" and source_type and source_type.lower().startswith("timestamp"):
        return dt.UTC  # the MySQL session runs with time_zone '+00:00'
    return ZoneInfo(zone) if zone != "UTC" else dt.UTC


def _parse_datetime(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))


def converter(target: Column, *, zone: dt.tzinfo = dt.UTC, target_dialect: str = "postgres") -> Converter:
    """A function value -> value for this column; raises RowError(reason, column) when it cannot.

    Builders return None for "no value" (an empty cell in a typed column, a zero date); the NOT NULL rule
    is applied here, once, for every family.
    """
    fam = family(target.type)
    name = target.name
    nullable = target.nullable
    inner = _BUILDERS.get(fam, _passthrough)(target, zone, target_dialect)

    def refuse_null(value: Any) -> RowError:
        if value is None:
            what = "NULL"
        elif isinstance(value, str) and value in _ZERO_DATES:
            what = "zero date"
        else:
            what = "empty value"
        return RowError(f"{what} in NOT NULL column of type {target.type}", name)

    def convert(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise refuse_null(value)
        try:
            out = inner(value)
        except RowError:
            raise
        except (ValueError, TypeError, ArithmeticError, InvalidOperation, orjson.JSONDecodeError) as exc:
            shown = repr(value) if len(repr(value)) < 60 else repr(value)[:57] + "..."
            raise RowError(f"cannot convert {shown} to {target.type}: {exc}", name) from None
        if out is None and not nullable:
            raise refuse_null(value)
        return out

    return convert


def _blank(v: Any) -> bool:
    """An empty CSV/XLSX cell (or a MySQL zero date) in a typed column means NULL."""
    return isinstance(v, str) and (not v.strip() or v in _ZERO_DATES)


def _passthrough(col: Column, zone: dt.tzinfo, dialect: str) -> Converter:
    return lambda v: v


def _int(col: Column, zone: dt.tzinfo, dialect: str) -> Converter:
    base = re.split(r"[\s(]", col.type.lower(), maxsplit=1)[0]
    bits = _INT_BITS.get(base, 64)
    unsigned = "unsigned" in col.type.lower()
    lo, hi = (0, (1 << bits) - 1) if unsigned else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)

    def conv(v: Any) -> int | None:
        if type(v) is int:
            if lo <= v <= hi:
                return v
            raise ValueError(f"out of range for {col.type}")
        if _blank(v):
            return None
        if isinstance(v, bool):
            out = int(v)
        elif isinstance(v, int):
            out = v
        elif isinstance(v, float | Decimal):
            if v != int(v):
                raise ValueError("not a whole number")
            out = int(v)
        elif isinstance(v, str):
            out = int(v.strip())
        else:
            raise TypeError(f"{type(v).__name__} is not a number")
        if not lo <= out <= hi:
            raise ValueError(f"out of range for {col.type}")
        return out

    return conv


def _bool(col: Column, zone: dt.tzinfo, dialect: str) -> Converter:
    as_int = dialect != "postgres"

    def conv(v: Any) -> Any:
        if _blank(v):
            return None
        if isinstance(v, bool):
            out = v
        elif isinstance(v, int | Decimal):
            out = v != 0
        elif isinstance(v, bytes) and len(v) == 1:  # MySQL BIT(1)
            out = v != b"\x00"
        elif isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
            out = v.strip().lower() in _TRUE
        else:
            raise ValueError("not a boolean (expected true/false, 1/0, yes/no, ya/tidak)")
        return int(out) if as_int else out

    return conv


def _decimal(col: Column, zone: dt.tzinfo, dialect: str) -> Converter:
    prec = _precision(col.type)
    # A value with no more decimals than the scale and a spare integer digit passes as it is; any other is
    # rounded here the way the database would (half away from zero), so checksums compare stored values.
    headroom = prec[0] - prec[1] - 1 if prec is not None else None
    scale = prec[1] if prec is not None else 0
    quantum = Decimal(1).scaleb(-scale)

    def conv(v: Any) -> Decimal | None:
        if (
            type(v) is Decimal
            and v.is_finite()
            # a finite Decimal's exponent is an int (typeshed also allows the 'n'/'N'/'F' of NaN and Infinity)
            and (headroom is None or (v.adjusted() < headroom and -v.as_tuple().exponent <= scale))  # type: ignore[operator]
        ):
            return v
        if _blank(v):
            return None
        if isinstance(v, bool):
            raise TypeError("boolean is not a decimal")
        d = v if isinstance(v, Decimal) else Decimal(str(v).strip()) if isinstance(v, str) else Decimal(str(v))
        if not d.is_finite():
            raise ValueError("not a finite number")
        if prec is not None:
            p, s = prec
            d = d.quantize(quantum, rounding=ROUND_HALF_UP)
            if d != 0 and d.adjusted() + 1 > p - s:
                raise ValueError(f"more than {p - s} digits before the decimal point")
        return d

    return conv


def _float(col: Column, zone: dt.tzinfo, dialect: str) -> Converter:
    def conv(v: Any) -> float | None:
        if type(v) is float:
            return v
        if _blank(v):
            return None
        if isinstance(v, bool):
            raise TypeError("boolean is not a number")
        return float(v.strip() if isinstance(v, str) else v)

    return conv


def _text(col: Column, zone: dt.tzinfo, dialect: str) -> Converter:
    limit = _length(col.type)

    check_nul = dialect == "postgres"

    def conv(v: Any) -> str:
        if type(v) is str and (limit is None or len(v) <= limit) and not (check_nul and "\x00" in v):
            return v
        if isinstance(v, str):
            out = v
        elif isinstance(v, bytes):
            out = v.decode("utf-8")
        elif isinstance(v, dt.datetime | dt.date | dt.time):
            out = v.isoformat()
        elif isinstance(v, dict | list):
            out = orjson.dumps(v).decode()
        else:
            out = str(v)
        if dialect == "postgres" and "\x00" in out:
            raise ValueError("text contains a NUL character, which PostgreSQL text cannot store")
        if limit is not None and len(out) > limit:
            raise ValueError(f"{len(out)} characters, longer than {limit}")
        return out

    return conv


def _date(col: Column, zone: dt.tzinfo, dialect: str) -> Converter:
    def conv(v: Any) -> dt.date | None:
        if _blank(v):
            return None
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date):
            return v
        if isinstance(v, str):
            s = v.strip()
            return dt.date.fromisoformat(s[:10]) if len(s) > 10 and s[10] in " T" else dt.date.fromisoformat(s)
        raise TypeError(f"{type(v).__name__} is not a date")

    return conv


def _to_datetime(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    if isinstance(v, str):
        return _parse_datetime(v)
    raise TypeError(f"{type(v).__name__} is not a datetime")


def _timestamptz(col: Column, zone: dt.tzinfo, dialect: str) -> Converter:
    def conv(v: Any) -> dt.datetime | None:
        if type(v) is dt.datetime and v.tzinfo is not None:
            return v
        if _blank(v):
            return None
        d = _to_datetime(v)
        return d.replace(tzinfo=zone) if d.tzinfo is None else d

    return conv


def _timestamp(col: Column, zone: dt.tzinfo, dialect: str) -> Converter:
    def conv(v: Any) -> dt.datetime | None:
        if _blank(v):
            return None
        d = _to_datetime(v)
        # An aware value becomes wall-clock time in the source zone; a naive one is kept as written.
        return d.astimezone(zone).replace(tzinfo=None) if d.tzinfo is not None else d

    return conv


def _json(col: Column, zone: dt.tzinfo, dialect: str) -> Converter:
    def conv(v: Any) -> str:
        if isinstance(v, str | bytes):
            orjson.loads(v)
            return v if isinstance(v, str) else v.decode()
        return orjson.dumps(v).decode()

    return conv


def _bytes(col: Column, zone: dt.tzinfo, dialect: str) -> Converter:
    def conv(v: Any) -> bytes:
        if isinstance(v, bytes | bytearray | memoryview):
            return bytes(v)
        if isinstance(v, str):
            return v.encode("utf-8")
        raise TypeError(f"{type(v).__name__} is not binary data")

    return conv


def _uuid(col: Column, zone: dt.tzinfo, dialect: str) -> Converter:
    def conv(v: Any) -> uuid.UUID | None:
        if _blank(v):
            return None
        return v if isinstance(v, uuid.UUID) else uuid.UUID(str(v).strip())

    return conv


def _time(col: Column, zone: dt.tzinfo, dialect: str) -> Converter:
    def conv(v: Any) -> Any:
        if isinstance(v, dt.time):
            return v
        if _blank(v):
            return None
        if isinstance(v, dt.timedelta):  # MySQL TIME arrives as a timedelta
            return (dt.datetime.min + v).time()
        if isinstance(v, str):
            return dt.time.fromisoformat(v.strip())
        raise TypeError(f"{type(v).__name__} is not a time")

    return conv


_BUILDERS: dict[str, Callable[[Column, dt.tzinfo, str], Converter]] = {
    "int": _int,
    "bool": _bool,
    "decimal": _decimal,
    "float": _float,
    "text": _text,
    "date": _date,
    "timestamptz": _timestamptz,
    "timestamp": _timestamp,
    "json": _json,
    "bytes": _bytes,
    "uuid": _uuid,
    "time": _time,
}
