"""The definition files under data/, and each OpenAPI one in both JSON and YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

DATA = Path(__file__).parent / "data"
OPENAPI_FILES = ("pegawai-3.0.yaml", "layanan-3.1.json", "kependudukan-swagger-2.0.yaml")


def text(name: str) -> str:
    return (DATA / name).read_text()


def document(name: str) -> dict[str, Any]:
    return yaml.safe_load(text(name))  # type: ignore[no-any-return]


def as_format(name: str, syntax: str) -> str:
    """The file's document as JSON or as YAML text (whatever syntax the file itself uses)."""
    data = document(name)
    return (
        orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()
        if syntax == "json"
        else yaml.safe_dump(data, sort_keys=False)
    )


OPENAPI_CASES = [
    pytest.param(name, syntax, id=f"{name}-{syntax}") for name in OPENAPI_FILES for syntax in ("json", "yaml")
]
