"""Request ids: the client's own X-Request-ID when it is a safe token, else 32 random hex digits."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


def new_request_id() -> bytes:
    return os.urandom(16).hex().encode()


def request_id_of(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The client's valid X-Request-ID (names lowercase, as ASGI gives them), else a new id."""
    for name, value in headers:
        if name == b"x-request-id" and VALID_REQUEST_ID.match(value):
            return value
    return new_request_id()
