"""One `${...}` interpolation for every YAML file SPLP reads: the gateway config and ETL job files.

    ${ENV:NAME}            the environment variable NAME; an error when it is not set
    ${ENV:NAME:-default}   the environment variable NAME, or `default` when it is not set
    ${name}                a variable of the file's own scope (see `bare`)

In ETL job files `${name}` is a job variable (`params`, `--param`, `run_date`, `run_id`, `job`), left in
place here and substituted when a run starts (gateway/etl/expr.py). The gateway config has no variables of
its own, so there `${NAME}` and `${NAME:-default}` also read the environment, as they always have.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal

_REF = re.compile(r"\$\{(ENV:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class MissingVariable(KeyError):
    """An environment variable that is not set and has no default; args[0] is its name."""


def interpolate(value: Any, *, bare: Literal["env", "keep"]) -> Any:
    """Replaces environment references in every string of a parsed YAML tree (dicts and lists)."""
    if isinstance(value, str):
        if "${" not in value:
            return value

        def sub(match: re.Match[str]) -> str:
            is_env, name, default = match.group(1), match.group(2), match.group(3)
            if not is_env and bare == "keep":
                return match.group(0)
            if name in os.environ:
                return os.environ[name]
            if default is None:
                raise MissingVariable(name)
            return default

        return _REF.sub(sub, value)
    if isinstance(value, dict):
        return {key: interpolate(item, bare=bare) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, bare=bare) for item in value]
    return value
