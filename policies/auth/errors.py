"""The auth policy's replies: problem+json with WSO2 codes, plus RFC 6750 WWW-Authenticate on 401 and 403."""

from __future__ import annotations

from gateway import errors
from gateway.types import Send
from keymanager.errors import AuthFailure, ScopeNotAllowed

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
    """401: a Bearer challenge (without `error` when no Bearer token was sent, RFC 6750 3.1); 403: a challenge
    only for a missing scope (`insufficient_scope` with the needed `scope`); other 403s are not about the
    token, so they carry no challenge; 503: Retry-After."""
    headers: list[tuple[bytes, bytes]] = []
    value = None
    if failure.status == 401 and failure.error is None:
        value = f'Bearer realm="{realm}"'
    elif failure.status in (401, 403) and failure.error is not None:
        value = f'Bearer realm="{realm}", error="{failure.error}", error_description="{_quoted(failure.description)}"'
        if isinstance(failure, ScopeNotAllowed) and failure.needed:
            value += f', scope="{_quoted(" ".join(sorted(failure.needed)))}"'
    elif failure.status == 503:
        headers.append((b"retry-after", b"5"))
    if value is not None:
        headers.append((b"www-authenticate", value.encode("latin-1", "replace")))
    extra = {"error": failure.error} if failure.error is not None else {}
    await errors.send_problem(send, problem_for(failure), failure.description, request_id, headers=headers, **extra)
