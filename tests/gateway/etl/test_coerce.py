"""Type conversion, MySQL -> PostgreSQL in particular."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from gateway.etl import coerce, ddl
from gateway.etl.errors import RowError
from gateway.etl.metadata import Column


@pytest.mark.parametrize(
    "mysql,pg",
    [
        ("tinyint(1)", "boolean"),
        ("tinyint(4)", "smallint"),
        ("int(11)", "integer"),
        ("int(10) unsigned", "bigint"),
        ("bigint(20) unsigned", "numeric(20,0)"),
        ("decimal(12,2)", "numeric(12,2)"),
        ("double", "double precision"),
        ("datetime", "timestamp without time zone"),
        ("timestamp", "timestamp with time zone"),
        ("enum('a','b')", "text"),
        ("set('x','y')", "text"),
        ("varchar(190)", "character varying(190)"),
        ("longtext", "text"),
        ("json", "jsonb"),
        ("blob", "bytea"),
        ("year(4)", "smallint"),
        ("bit(1)", "boolean"),
    ],
)
def test_mysql_to_postgres_types(mysql: str, pg: str) -> None:
    assert ddl.mysql_to_postgres(mysql) == pg


def conv(
    type_: str,
    nullable: bool = True,
    zone: str = "UTC",  # type: ignore[no-untyped-def]
    dialect: str = "postgres",
):
    return coerce.converter(Column("c", type_, nullable), zone=ZoneInfo(zone), target_dialect=dialect)


def test_values() -> None:
    assert conv("boolean")(1) is True and conv("boolean")(0) is False and conv("boolean")("ya".replace("a", "es"))
    assert conv("boolean", dialect="mysql")(True) == 1
    assert conv("integer")("42") == 42 and conv("integer")(Decimal("3")) == 3
    assert conv("numeric(12,2)")("1234.50") == Decimal("1234.50")
    assert str(conv("numeric(12,2)")(Decimal("0.125"))) == "0.13"  # rounded as PostgreSQL stores it
    assert str(conv("numeric(12,2)")(Decimal("-0.125"))) == "-0.13"
    with pytest.raises(RowError, match="more than 3 digits before the decimal point"):
        conv("numeric(5,2)")(Decimal("999.995"))  # rounds to 1000.00
    assert conv("date")("0000-00-00") is None and conv("timestamp with time zone")("0000-00-00 00:00:00") is None
    jkt = conv("timestamp with time zone", zone="Asia/Jakarta")(dt.datetime(2024, 1, 1, 7, 0))
    assert jkt == dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.UTC)
    assert conv("timestamp without time zone", zone="Asia/Jakarta")(
        dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.UTC)
    ) == dt.datetime(2024, 1, 1, 7, 0)
    assert conv("jsonb")({"a": [1, 2]}) == '{"a":[1,2]}'
    assert conv("text")("héllo 😀") == "héllo 😀"
    assert conv("time")(dt.timedelta(hours=13, minutes=5)) == dt.time(13, 5)
    assert conv("integer")("  ") is None  # an empty cell in a typed column is NULL


@pytest.mark.parametrize(
    "type_,value,nullable,reason",
    [
        ("integer", "12a", True, "cannot convert '12a' to integer: invalid literal for int() with base 10: '12a'"),
        ("smallint", 40000, True, "cannot convert 40000 to smallint: out of range for smallint"),
        (
            "numeric(5,2)",
            "1234.5",
            True,
            "cannot convert '1234.5' to numeric(5,2): more than 3 digits before the decimal point",
        ),
        (
            "character varying(3)",
            "abcd",
            True,
            "cannot convert 'abcd' to character varying(3): 4 characters, longer than 3",
        ),
        (
            "text",
            "a\x00b",
            True,
            "cannot convert 'a\\x00b' to text: text contains a NUL character, which PostgreSQL text cannot store",
        ),
        ("date", "0000-00-00", False, "zero date in NOT NULL column of type date"),
        ("text", None, False, "NULL in NOT NULL column of type text"),
        (
            "boolean",
            "maybe",
            True,
            "cannot convert 'maybe' to boolean: not a boolean (expected true/false, 1/0, yes/no, ya/tidak)",
        ),
        (
            "jsonb",
            "{bad",
            True,
            "cannot convert '{bad' to jsonb: unexpected character, expected a string key: line 1 column 2 (char 1)",
        ),
    ],
)
def test_refusals_name_the_column(type_: str, value: object, nullable: bool, reason: str) -> None:
    with pytest.raises(RowError) as info:
        conv(type_, nullable)(value)
    assert (info.value.column, info.value.reason) == ("c", reason)
