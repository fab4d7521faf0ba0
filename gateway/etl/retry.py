"""Which failures are a lost connection, worth a retry from the last checkpoint.

A dropped connection surfaces in many shapes, often as a follow-on error raised while handling the first one
(`InterfaceError: cannot call Transaction.__aexit__()`, asyncmy's `(0, 'Not connected')`): the whole
exception chain is searched, and the first transient cause found is what the run reports.
"""

from __future__ import annotations

import asyncmy.errors
import asyncpg

from .errors import CannotConnect

# MySQL client errors that mean the connection is gone: can't connect, server gone away, lost during query,
# lost during handshake, not connected.
_MYSQL_LOST = frozenset({0, 2002, 2003, 2006, 2013, 2055})

_PG_LOST = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.CannotConnectNowError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


def _is_lost(exc: BaseException) -> bool:
    if isinstance(exc, (CannotConnect, ConnectionError, TimeoutError, *_PG_LOST)):
        return True
    if isinstance(exc, asyncpg.InternalClientError) and "another operation" in str(exc):
        return True  # a statement issued on a connection the server just terminated mid-operation
    if isinstance(exc, asyncpg.InterfaceError) and "connection" in str(exc).lower():
        return True
    if isinstance(exc, (asyncmy.errors.OperationalError, asyncmy.errors.InterfaceError)):
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        return code in _MYSQL_LOST
    return isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError)


def lost_connection(exc: BaseException) -> BaseException | None:
    """The transient cause in `exc`'s chain (itself, its __cause__ or __context__), or None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_lost(current):
            return current
        current = current.__cause__ or current.__context__
    return None
