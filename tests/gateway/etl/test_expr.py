"""The expression language: what it computes and what it refuses."""

from __future__ import annotations

import pytest

from gateway.etl.errors import ExpressionError, RowError
from gateway.etl.expr import compile_expr, interpolate

ROW = {"first": "ani", "last": "Wijaya", "qty": 3, "price": 2.5, "active": 1, "note": None}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("upper(first) + ' ' + last", "ANI Wijaya"),
        ("qty * price", 7.5),
        ("qty // 2 + qty % 2", 2),
        ("'aktif' if active else 'nonaktif'", "aktif"),
        ("coalesce(note, 'kosong')", "kosong"),
        ("note + 'x'", None),
        ("qty > 2 and price < 3", True),
        ("concat(first, '-', qty)", "ani-3"),
        ("substr(last, 1, 3)", "Wij"),
        ("${region} + '/' + first", "Jawa Barat/ani"),
        ("qty in (1, 2, 3)", True),
    ],
)
def test_evaluates(text: str, expected: object) -> None:
    assert compile_expr(text, {"region": "Jawa Barat"}, set(ROW))(ROW) == expected


@pytest.mark.parametrize(
    "text,message",
    [
        ("().__class__", "expression '().__class__': Attribute is not allowed in expressions"),
        ("first[0]", "expression 'first[0]': Subscript is not allowed in expressions"),
        ("[x for x in first]", "expression '[x for x in first]': ListComp is not allowed in expressions"),
        ("(lambda: 1)()", "expression '(lambda: 1)()': Call is not allowed in expressions"),
        (
            "open('/etc/passwd')",
            "expression \"open('/etc/passwd')\": unknown function 'open'; allowed: abs, coalesce, "
            "concat, date, datetime, decimal, float, int, len, lower, max, min, nullif, replace, round, str, strip, "
            "substr, title, upper",
        ),
        ("__builtins__", "expression '__builtins__': name '__builtins__' is not allowed"),
        ("missing + 1", "expression 'missing + 1': unknown column 'missing'"),
        ("qty +", "expression 'qty +': syntax error: invalid syntax"),
        ("${nope}", "unknown variable ${nope}; known: region"),
    ],
)
def test_refuses(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expr(text, {"region": "x"}, set(ROW))
    assert str(info.value) == message


def test_variables_substitute_as_literals_not_code() -> None:
    evil = "') + open('x"
    assert compile_expr("${v}", {"v": evil})({}) == evil


def test_row_errors_name_the_function() -> None:
    with pytest.raises(RowError) as info:
        compile_expr("int(first)", {})(ROW)
    assert info.value.reason == "int() failed: invalid literal for int() with base 10: 'ani'"


def test_interpolate_keeps_types() -> None:
    assert interpolate("${n}", {"n": 5}) == 5
    assert interpolate("run ${n} of ${job}", {"n": 5, "job": "j"}) == "run 5 of j"
