"""Keys a reload cannot apply: they are read once when the process starts (sockets, processes,
the server protocol, the catalog feed, the connection pools). A reload that changes one says so."""

from __future__ import annotations

from typing import Any

from gateway.config.model import GatewayConfig

# Dotted paths into GatewayConfig; a section stands for every key below it.
RESTART_ONLY = (
    "gateway.listen",
    "gateway.workers",
    "gateway.watch_config",
    "gateway.limits.header_timeout",
    "gateway.limits.max_header_bytes",
    "gateway.limits.max_headers",
    "gateway.limits.keepalive_timeout",
    "gateway.limits.graceful_timeout",
    "control",
    "storage.catalog",
    "storage.serve_catalog",
    "storage.catalog_cache",
    "upstream.pool",
)
# Applied live by the gateway, but the control API reads them once when it starts.
CONTROL_READS_AT_START = ("gateway.public_url", "tiers", "key_managers")


def restart_only_changes(running: GatewayConfig, new: GatewayConfig) -> list[str]:
    """The keys (dotted, the deepest that differ) whose new value waits for a restart."""
    changed: list[str] = []
    for path in RESTART_ONLY:
        _diff(path, _at(running, path), _at(new, path), changed)
    if running.control.enabled:
        changed += [f"{p} (control API)" for p in CONTROL_READS_AT_START if _at(running, p) != _at(new, p)]
    return changed


def _at(config: Any, path: str) -> Any:
    for part in path.split("."):
        config = getattr(config, part)
    return config


def _diff(path: str, old: Any, new: Any, out: list[str]) -> None:
    if old == new:
        return
    fields = getattr(type(old), "model_fields", None)
    if fields is None:
        out.append(path)
        return
    for name in fields:
        _diff(f"{path}.{name}", getattr(old, name), getattr(new, name), out)
