"""Real backing services for tests: PostgreSQL, MariaDB, Redis on loopback.

Outside CI a missing service skips the test with the reason; under CI=true it fails, because CI
(.ci/run) starts them and a skip there would hide a broken set-up.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest

SERVICES = {
    "postgres": ("127.0.0.1", 5432),
    "mariadb": ("127.0.0.1", 3306),
    "redis": ("127.0.0.1", 6379),
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str) -> tuple[str, int]:
    """Returns (host, port) of the service, or skips (fails under CI) when it is not listening."""
    host, port = SERVICES[name]
    if not reachable(host, port):
        message = f"{name} is not listening on {host}:{port}"
        if in_ci():
            pytest.fail(f"{message}; CI must start it (.ci/run)")
        pytest.skip(message)
    return host, port


def unique_name(prefix: str) -> str:
    """A name no other test run uses: for per-run databases, schemas and Redis key prefixes."""
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
