"""JSON or YAML text -> plain JSON values, checked: size, nesting, node count, and no reference that
points outside the document.

YAML is read with `yaml.safe_load` (no Python objects). Its aliases are shared references, so a small
file can describe an enormous tree ("billion laughs"); the copy made here visits every use of an
alias and stops at MAX_NODES. Keys become strings (YAML gives `200:` as an int), dates ISO text.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

import orjson
import yaml

from gateway.catalog.interchange.limits import MAX_DEFINITION_BYTES, MAX_DEPTH, MAX_NODES
from gateway.catalog.interchange.model import Problems, pointer, refuse

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_REF_KEYS = ("$ref", "$dynamicRef")


def check_size(text: str) -> None:
    if len(text) > MAX_DEFINITION_BYTES or len(text.encode()) > MAX_DEFINITION_BYTES:
        raise refuse("/", f"the definition is larger than {MAX_DEFINITION_BYTES} bytes")


def load_tree(text: str) -> dict[str, Any]:
    """The document as plain JSON values; Invalid names what is wrong and where."""
    check_size(text)
    stripped = text.lstrip("\ufeff \t\r\n")
    try:
        if stripped.startswith("{"):
            raw: Any = orjson.loads(stripped)
        else:
            raw = yaml.load(stripped, Loader=_Loader)  # noqa: S506 - a safe loader
    except orjson.JSONDecodeError as exc:
        raise refuse("/", f"not JSON: {exc}") from None
    except yaml.YAMLError as exc:
        raise refuse("/", f"neither JSON nor YAML: {exc}".replace("\n", " ")) from None
    except RecursionError:
        raise refuse("/", f"nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(raw, dict):
        raise refuse("/", "expected an object at the top (an OpenAPI or Swagger document)")
    problems = Problems()
    tree = _Copier(problems).copy(raw, [])
    problems.raise_any()
    return tree  # type: ignore[no-any-return]


class _Copier:
    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.nodes = 0

    def copy(self, value: Any, path: list[str]) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise refuse("/", f"more than {MAX_NODES} values (YAML aliases count each time they are used)")
        if len(path) > MAX_DEPTH:
            raise refuse(pointer(*path[:MAX_DEPTH]), f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                name = _key(key)
                if name in _REF_KEYS:
                    self._check_ref(item, [*path, name])
                out[name] = self.copy(item, [*path, name])
            return out
        if isinstance(value, list | tuple | set | frozenset):
            return [self.copy(item, [*path, str(i)]) for i, item in enumerate(value)]
        if isinstance(value, datetime.date):
            return value.isoformat()
        if isinstance(value, bytes):
            return base64.b64encode(value).decode()
        return value

    def _check_ref(self, ref: Any, path: list[str]) -> None:
        where = pointer(*path)
        if not isinstance(ref, str):
            self.problems.add(where, "a reference must be a string")
        elif not ref.startswith("#"):
            # never fetched, whatever the scheme: this is where an import would become a request (SSRF)
            self.problems.add(
                where, f"external reference {ref[:200]!r} refused; only references inside the document (#/...)"
            )


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)
