"""Dependency hygiene: every third-party import is declared in pyproject.toml, every declared library is used.

An undeclared import works only while some other package happens to pull it in (coredis came with
limits[async-redis]); a declared but unused one is weight and attack surface for nothing.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("gateway", "keymanager", "policies", "tests", "bench")
# Declared for what they run, not for what code imports: CLI tools, pytest plugins, C accelerators.
TOOLS = {
    *("ruff", "mypy", "types-pyyaml", "uv", "schemathesis", "py-spy"),  # run as commands
    *("pytest-asyncio", "pytest-timeout"),  # pytest plugins
    *("uvloop", "httptools"),  # loaded by uvicorn by name
    "swagger-ui-py",  # its static files are served by gateway/control/docs.py (found, not imported)
}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"]) + [d for extra in project["optional-dependencies"].values() for d in extra]
    return {canonicalize_name(Requirement(line).name) for line in lines}


def _imported() -> dict[str, set[str]]:
    """Top-level module -> files importing it (stdlib and the project's own packages left out)."""
    found: dict[str, set[str]] = {}
    for root in SCANNED:
        for path in (ROOT / root).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in SCANNED:
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


_PACKAGES = packages_distributions()


def _distributions(module: str) -> set[str]:
    return {canonicalize_name(d) for d in _PACKAGES.get(module, [module])}


def test_every_import_is_declared() -> None:
    declared = _declared()
    missing = {m: sorted(files)[:3] for m, files in _imported().items() if not _distributions(m) & declared}
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_every_declared_library_is_imported() -> None:
    used = set().union(*(_distributions(m) for m in _imported()))
    unused = sorted(_declared() - used - TOOLS)
    assert not unused, f"declared in pyproject.toml but never imported: {unused}"
