"""A small, safe expression language for column mappings.

Python expression syntax, restricted by an AST whitelist and compiled once into closures: literals,
column names, `${variable}` (replaced by a literal before parsing), arithmetic, comparison, `and/or/not`,
`x if c else y`, and calls to the functions in FUNCTIONS. No attributes, subscripts, lambdas,
comprehensions or dunder names exist in the language, so untrusted job text cannot reach Python objects.
"""

from __future__ import annotations

import ast
import datetime as dt
import operator
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from .errors import ExpressionError, RowError

Row = Mapping[str, Any]
Compiled = Callable[[Row], Any]
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _concat(*parts: Any) -> str:
    return "".join("" if p is None else str(p) for p in parts)


def _substr(s: Any, start: int, length: int | None = None) -> Any:
    if s is None:
        return None
    s = str(s)
    return s[start - 1 :] if length is None else s[start - 1 : start - 1 + length]


def _nullif(a: Any, b: Any) -> Any:
    return None if a == b else a


def _none_safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    return lambda v, *a: None if v is None else fn(v, *a)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "upper": _none_safe(lambda s: str(s).upper()),
    "lower": _none_safe(lambda s: str(s).lower()),
    "strip": _none_safe(lambda s: str(s).strip()),
    "title": _none_safe(lambda s: str(s).title()),
    "replace": _none_safe(lambda s, a, b: str(s).replace(a, b)),
    "len": _none_safe(len),
    "substr": _substr,
    "concat": _concat,
    "coalesce": lambda *a: next((x for x in a if x is not None), None),
    "nullif": _nullif,
    "int": _none_safe(int),
    "float": _none_safe(float),
    "decimal": _none_safe(lambda v: Decimal(str(v))),
    "str": _none_safe(str),
    "round": _none_safe(round),
    "abs": _none_safe(abs),
    "min": min,
    "max": max,
    "date": _none_safe(lambda v: v.date() if isinstance(v, dt.datetime) else dt.date.fromisoformat(str(v)[:10])),
    "datetime": _none_safe(lambda v: v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(str(v))),
}

_BIN = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_CMP: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_CONSTS = {"None": None, "True": True, "False": False, "null": None, "true": True, "false": False}


def substitute(text: str, variables: Mapping[str, Any]) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(1) not in variables:
            raise ExpressionError(f"unknown variable ${{{m.group(1)}}}; known: {', '.join(sorted(variables))}")
        return repr(variables[m.group(1)])

    return _VAR.sub(repl, text)


def interpolate(text: str, variables: Mapping[str, Any]) -> Any:
    """`${name}` inside a constant string; a string that is exactly one variable keeps the variable's type."""

    def value(name: str) -> Any:
        if name not in variables:
            raise ExpressionError(f"unknown variable ${{{name}}}; known: {', '.join(sorted(variables))}")
        return variables[name]

    m = _VAR.fullmatch(text)
    if m:
        return value(m.group(1))
    return _VAR.sub(lambda m: str(value(m.group(1))), text)


def compile_expr(text: str, variables: Mapping[str, Any], columns: set[str] | None = None) -> Compiled:
    """Parse once; the result evaluates against a source row. Unknown columns fail here, not per row."""
    source = substitute(text, variables)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"expression {text!r}: syntax error: {exc.msg}") from None
    try:
        return _build(tree.body, columns)
    except ExpressionError as exc:
        raise ExpressionError(f"expression {text!r}: {exc}") from None


def _build(node: ast.AST, columns: set[str] | None) -> Compiled:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool | type(None)):
        value = node.value
        return lambda row: value
    if isinstance(node, ast.Name):
        name = node.id
        if name in _CONSTS:
            const = _CONSTS[name]
            return lambda row: const
        if name.startswith("_"):
            raise ExpressionError(f"name {name!r} is not allowed")
        if columns is not None and name not in columns:
            raise ExpressionError(f"unknown column {name!r}")
        return lambda row: row.get(name)
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        fn, left, right = _BIN[type(node.op)], _build(node.left, columns), _build(node.right, columns)
        if isinstance(node.op, ast.Add):

            def add(row: Row) -> Any:
                a, b = left(row), right(row)
                if a is None or b is None:
                    return None
                if isinstance(a, str) or isinstance(b, str):
                    return f"{a}{b}"
                return a + b

            return add
        return lambda row: _null_or(fn, left(row), right(row))
    if isinstance(node, ast.UnaryOp):
        operand = _build(node.operand, columns)
        if isinstance(node.op, ast.Not):
            return lambda row: not operand(row)
        if isinstance(node.op, ast.USub):
            return lambda row: None if (v := operand(row)) is None else -v
        if isinstance(node.op, ast.UAdd):
            return operand
    if isinstance(node, ast.BoolOp):
        parts = [_build(v, columns) for v in node.values]
        if isinstance(node.op, ast.And):

            def and_(row: Row) -> Any:
                result: Any = True
                for p in parts:
                    result = p(row)
                    if not result:
                        return result
                return result

            return and_

        def or_(row: Row) -> Any:
            result: Any = False
            for p in parts:
                result = p(row)
                if result:
                    return result
            return result

        return or_
    if isinstance(node, ast.Compare) and all(type(o) in _CMP for o in node.ops):
        first = _build(node.left, columns)
        rest = [(_CMP[type(o)], _build(c, columns)) for o, c in zip(node.ops, node.comparators, strict=True)]

        def compare(row: Row) -> bool:
            left = first(row)
            for fn, right in rest:
                r = right(row)
                if not fn(left, r):
                    return False
                left = r
            return True

        return compare
    if isinstance(node, ast.IfExp):
        test, body, orelse = (_build(n, columns) for n in (node.test, node.body, node.orelse))
        return lambda row: body(row) if test(row) else orelse(row)
    if isinstance(node, ast.Tuple | ast.List):
        items = [_build(e, columns) for e in node.elts]
        return lambda row: tuple(i(row) for i in items)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id not in FUNCTIONS:
            raise ExpressionError(f"unknown function {node.func.id!r}; allowed: {', '.join(sorted(FUNCTIONS))}")
        fn = FUNCTIONS[node.func.id]
        args = [_build(a, columns) for a in node.args]
        fname = node.func.id

        def call(row: Row) -> Any:
            values = [a(row) for a in args]
            try:
                return fn(*values)
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise RowError(f"{fname}() failed: {exc}") from None

        return call
    raise ExpressionError(f"{type(node).__name__} is not allowed in expressions")


def _null_or(fn: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    try:
        return fn(a, b)
    except (TypeError, ArithmeticError) as exc:
        raise RowError(f"cannot compute: {exc}") from None
