"""Read a job file: YAML -> ${ENV:NAME} interpolation (gateway/config/interpolate.py) -> JobConfig, with
every problem named by dotted path."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.config.interpolate import MissingVariable, interpolate
from gateway.config.load import yaml_error_message

from .errors import JobConfigError
from .model import JobConfig

_UNION_TAGS = {"postgres", "mysql", "sqlite", "file", "table"}


def dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and i > 0 and (part in _UNION_TAGS or part.startswith("function-")):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _problem(err: Mapping[str, Any]) -> str:
    path = dotted(tuple(err["loc"]))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key is missing"
    value = err.get("input")
    if err["type"] not in ("missing", "model_type") and isinstance(value, (str, int, float, bool)):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        return f"{path}: {shown}: {msg}"
    return f"{path}: {msg}"


def parse_job(data: Any, file: str) -> JobConfig:
    if not isinstance(data, dict):
        raise JobConfigError(file, ["(top level): expected a mapping of job keys"])
    try:
        return JobConfig.model_validate(interpolate(data, bare="keep"))
    except MissingVariable as exc:
        raise JobConfigError(
            file, [f"(file): environment variable {exc.args[0]} is not set and has no default"]
        ) from None
    except ValidationError as exc:
        raise JobConfigError(file, [_problem(e) for e in exc.errors()]) from None


def load_job(path: str | os.PathLike[str]) -> JobConfig:
    """Load and validate a job; relative file paths in it stay relative to the job file (see job_dir)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise JobConfigError(str(p), [f"(file): cannot read: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise JobConfigError(str(p), [yaml_error_message(exc)]) from None
    return parse_job(data, str(p))


def absolute(path: str | os.PathLike[str]) -> Path:
    """The job file's absolute path: run records keep it, and relative paths in the job resolve from its folder."""
    return Path(os.path.abspath(path))


def job_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The job files of a folder (*.yaml, *.yml), sorted."""
    root = Path(folder)
    return sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
