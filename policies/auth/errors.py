"""The auth policy's replies: problem+json with WSO2 codes, plus RFC 6750 WWW-Authenticate on 401 and 403."""

from __future__ import annotations

from gateway import errors
from gateway.types import Send
from keymanager.errors import AuthFailure

_PROBLEMS: dict[type[AuthFailure], errors.Problem] = {}


def problem_for(failure: AuthFailure) -> errors.Problem:
    cls = type(failure)
    problem = _PROBLEMS.get(cls)
    if problem is None:
        slug = cls.title.lower().replace(" ", "-")
        problem = _PROBLEMS[cls] = errors.Problem(cls.status, cls.code, slug, cls.title)
    return problem


def _quoted(text: str) -> str:
    return "".join(c for c in text if c.isprintable() and c not in '"\\')


async def send_failure(send: Send, failure: AuthFailure, request_id: bytes | None, *, realm: str = "splp") -> None:
    headers: list[tuple[bytes, bytes]] = []
    if failure.status in (401, 403):
        if failure.code == 900902:  # RFC 6750 3.1: no error code when no credentials were sent
            value = f'Bearer realm="{realm}"'
        else:
            value = (
                f'Bearer realm="{realm}", error="{failure.error}", error_description="{_quoted(failure.description)}"'
            )
        headers.append((b"www-authenticate", value.encode("latin-1", "replace")))
    elif failure.status == 503:
        headers.append((b"retry-after", b"5"))
    await errors.send_problem(
        send, problem_for(failure), failure.description, request_id, headers=headers, error=failure.error
    )
