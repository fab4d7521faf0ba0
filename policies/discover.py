"""Out-of-tree policies: classes published under the `splp.policies` entry-point group.

A third-party package declares, in its pyproject.toml:

    [project.entry-points."splp.policies"]
    audit_trail = "splp_audit.policy:AuditTrailPolicy"

and, once installed beside SPLP, `audit_trail` may be named in any API's `policies:`. The entry-point
name must equal the class's NAME; a built-in name cannot be taken over (the built-in wins and the
clash is logged). A class that does not fulfil the contract (NAME, integer PRIORITY, a pydantic
`Config`, callable) is refused with a logged reason, never half-loaded.
"""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint, entry_points

from pydantic import BaseModel

from gateway.types import Policy

GROUP = "splp.policies"
log = logging.getLogger("splp.policies")


def contract_problem(name: str, candidate: object) -> str | None:
    """Why `candidate` cannot serve as the policy `name`, or None when it can."""
    if not isinstance(candidate, type):
        return "is not a class"
    if getattr(candidate, "NAME", None) != name:
        return f"NAME is {getattr(candidate, 'NAME', None)!r}, expected {name!r} (the entry-point name)"
    priority = getattr(candidate, "PRIORITY", None)
    if not isinstance(priority, int) or isinstance(priority, bool):
        return "PRIORITY is not an integer"
    config = getattr(candidate, "Config", None)
    if not (isinstance(config, type) and issubclass(config, BaseModel)):
        return "Config is not a pydantic model"
    if not any("__call__" in vars(klass) for klass in candidate.__mro__[:-1]):
        return "instances are not callable"
    return None


def _source(entry: EntryPoint) -> str:
    dist = entry.dist
    where = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
    return f"entry point {entry.value} ({where})"


def discover(builtin: dict[str, type[Policy]]) -> tuple[dict[str, type[Policy]], dict[str, str]]:
    """Policies of installed packages: (name -> class, name -> where it came from)."""
    found: dict[str, type[Policy]] = {}
    sources: dict[str, str] = {}
    for entry in entry_points(group=GROUP):
        name = entry.name
        if name in builtin:
            log.warning("policy %r from %s ignored: a built-in policy has that name", name, _source(entry))
            continue
        try:
            candidate = entry.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, the gateway still starts
            log.error("policy %r from %s cannot be imported: %s", name, _source(entry), exc)
            continue
        problem = contract_problem(name, candidate)
        if problem is not None:
            log.error("policy %r from %s refused: %s", name, _source(entry), problem)
            continue
        found[name] = candidate
        sources[name] = _source(entry)
    return found, sources
