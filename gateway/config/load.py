"""Reads conf/ once: YAML, `${ENV:NAME:-default}` interpolation (config/interpolate.py), validation into
frozen models.

Every problem in every file is collected and raised together as one ConfigError, so an operator
fixes a config in one pass; nothing half-loads.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from gateway.config.errors import ConfigError, ConfigProblem
from gateway.config.interpolate import MissingVariable, interpolate
from gateway.config.merge import overlay
from gateway.config.model import ApiConfig, ApiDefinition, ApiFile, GatewayConfig, LoadedConfig, PolicySpec
from policies import REGISTRY


def load_config(path: str | os.PathLike[str]) -> LoadedConfig:
    """Loads gateway.yaml (or a directory holding one) and every API file it includes."""
    main = Path(path)
    if main.is_dir():
        main = main / "gateway.yaml"
    problems: list[ConfigProblem] = []
    raw = _read_yaml(main, problems)
    gateway = _validate(GatewayConfig, raw, str(main), problems) if raw is not None else None
    if gateway is not None:
        includes: tuple[str, ...] = gateway.include
    else:  # still check the API files, so one pass reports everything
        listed = raw.get("include") if isinstance(raw, dict) else None
        includes = tuple(p for p in listed if isinstance(p, str)) if isinstance(listed, list) else ()

    files = [str(main)]
    sourced: list[tuple[ApiConfig, str, str]] = [
        (api, str(main), f"apis[{i}]") for i, api in enumerate(gateway.apis if gateway else ())
    ]
    for pattern in includes:
        matches = sorted(glob.glob(str(main.parent / pattern)))
        if not matches and not glob.has_magic(pattern):
            problems.append(ConfigProblem(str(main), "include", f"{pattern!r} does not exist"))
        for file in matches:
            files.append(file)
            data = _read_yaml(Path(file), problems)
            if data is None:
                continue
            api_file = _validate(ApiFile, data, file, problems)
            if api_file is not None:
                sourced.extend((api, file, f"apis[{i}]") for i, api in enumerate(api_file.apis))
            else:
                _check_raw_api_policies(data, file, problems)

    if gateway is not None:
        global_specs = resolve_policies(gateway.policies, str(main), "policies", problems)
    else:  # the structure is wrong, but the policies' own errors belong in the same report
        global_specs = resolve_policies(_raw_policies(raw, "policies"), str(main), "policies", problems)
        _check_raw_api_policies(raw, str(main), problems)
    apis: list[ApiDefinition] = []
    seen: dict[str, str] = {}
    for api, file, where in sourced:
        where_prefix = f"{file}:{where}"
        if api.prefix in seen:
            problems.append(
                ConfigProblem(file, f"{where}.context", f"{api.prefix!r} is already defined by {seen[api.prefix]}")
            )
        seen[api.prefix] = where_prefix
        own = resolve_policies(api.policies, file, f"{where}.policies", problems)
        apis.append(ApiDefinition(config=api, policies=overlay(global_specs, own), source=file, where=where))

    if problems or gateway is None:
        raise ConfigError(problems)
    return LoadedConfig(path=str(main), gateway=gateway, apis=tuple(apis), files=tuple(files))


def load_api_file(path: str | os.PathLike[str]) -> tuple[ApiDefinition, ...]:
    """Validates one included API file on its own (for `splp check FILE`)."""
    file = str(path)
    problems: list[ConfigProblem] = []
    data = _read_yaml(Path(path), problems)
    api_file = _validate(ApiFile, data, file, problems) if data is not None else None
    apis: list[ApiDefinition] = []
    if api_file is None and data is not None:
        _check_raw_api_policies(data, file, problems)
    if api_file is not None:
        for i, api in enumerate(api_file.apis):
            specs = resolve_policies(api.policies, file, f"apis[{i}].policies", problems)
            apis.append(ApiDefinition(config=api, policies=specs, source=file, where=f"apis[{i}]"))
    if problems:
        raise ConfigError(problems)
    return tuple(apis)


def _raw_policies(data: Any, key: str) -> tuple[dict[str, Any], ...]:
    """The well-formed `{name: config}` entries under `key` of an unvalidated mapping (the rest is a
    structure error already reported)."""
    entries = data.get(key) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return ()
    if not all(isinstance(e, dict) and len(e) == 1 and isinstance(next(iter(e)), str) for e in entries):
        return ()  # a malformed list is one structure error; indexes would not match the file
    return tuple(entries)


def _check_raw_api_policies(data: Any, file: str, problems: list[ConfigProblem]) -> None:
    """Checks the policies of a file whose structure failed validation, so one pass reports both kinds."""
    apis = data.get("apis") if isinstance(data, dict) else None
    for i, api in enumerate(apis if isinstance(apis, list) else ()):
        resolve_policies(_raw_policies(api, "policies"), file, f"apis[{i}].policies", problems)


def _read_yaml(path: Path, problems: list[ConfigProblem]) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(ConfigProblem(str(path), "", "file does not exist"))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ConfigProblem(str(path), "", f"cannot read file: {exc}"))
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problems.append(ConfigProblem(str(path), "", yaml_error_message(exc)))
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(ConfigProblem(str(path), "", f"expected a mapping at the top level, got {type(data).__name__}"))
        return None
    try:
        return interpolate(data, bare="env")
    except MissingVariable as exc:
        problems.append(
            ConfigProblem(str(path), "", f"environment variable {exc.args[0]} is not set and has no default")
        )
        return None


def yaml_error_message(exc: yaml.YAMLError) -> str:
    """`line 3, column 9: not valid YAML: <problem> (<context>, line 2, column 1)`, lines and columns from 1."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return f"not valid YAML: {exc}".replace("\n", " ")
    mark = exc.problem_mark
    message = f"line {mark.line + 1}, column {mark.column + 1}: not valid YAML: {exc.problem}"
    if exc.context:
        where = exc.context_mark
        at = f", line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        message += f" ({exc.context}{at})"
    return message


def _validate(model: type[BaseModel], data: Any, file: str, problems: list[ConfigProblem], prefix: str = "") -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(describe_validation_error(exc, file, model, prefix))
        return None


def describe_validation_error(
    exc: ValidationError, file: str, model: type[BaseModel], prefix: str = ""
) -> list[ConfigProblem]:
    problems = []
    errors = exc.errors(include_url=False)
    item_locs = [tuple(e["loc"]) for e in errors]
    for error in errors:
        here = tuple(error["loc"])
        if error["type"] == "too_short" and any(len(o) > len(here) and o[: len(here)] == here for o in item_locs):
            continue  # a list emptied by its own failing items: the item errors say it better
        loc = [part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-"))]
        path = _dotted(prefix, loc)
        kind = error["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
            message = f"unknown key {loc[-1]!r}{hint}"
        elif kind == "missing":
            message = "required key is missing"
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            if kind != "value_error":
                message = f"{error['input']!r}: {message}" if _is_scalar(error.get("input")) else message
        problems.append(ConfigProblem(file, path, message))
    return problems


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _dotted(prefix: str, loc: list[Any]) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _allowed_keys(model: type[BaseModel], loc: list[Any]) -> list[str]:
    """Walks the model classes along `loc` to list the keys allowed where an unknown one was found."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        current = _model_in(fields[part].annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def resolve_policies(
    entries: tuple[dict[str, Any], ...], file: str, where: str, problems: list[ConfigProblem]
) -> tuple[PolicySpec, ...]:
    specs: list[PolicySpec] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        ((name, raw),) = entry.items()
        path = f"{where}[{i}].{name}"
        policy_class = REGISTRY.get(name)
        if policy_class is None:
            problems.append(
                ConfigProblem(file, path, f"unknown policy; expected one of: {', '.join(sorted(REGISTRY))}")
            )
            continue
        if name in seen:
            problems.append(ConfigProblem(file, path, "policy listed twice; merge its settings into one entry"))
            continue
        seen.add(name)
        config = _validate(policy_class.Config, raw if raw is not None else {}, file, problems, prefix=path)
        if config is not None:
            specs.append(PolicySpec(name=name, policy_class=policy_class, config=config))
    return tuple(specs)
