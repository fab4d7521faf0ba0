"""Control-API errors: problem+json in the gateway's shape (gateway/errors.py: type, title, status,
detail, code, request_id), with `errors` listing field problems on 422.

Codes: WSO2's where WSO2 API Manager has one for the case (900901 invalid credentials, 900902
missing credentials), else SPLP's own 801xxx range for the control API.

Visibility rule, everywhere: an object outside the caller's tenant scope answers 404, exactly like
an object that does not exist, so nobody learns what other tenants hold. 403 means "you can see it,
your role may not do this".
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from gateway.errors import Problem, problem_body

BAD_REQUEST = Problem(400, 801400, "control-bad-request", "Malformed request")
INVALID_CREDENTIALS = Problem(401, 900901, "invalid-credentials", "Invalid credentials")
MISSING_CREDENTIALS = Problem(401, 900902, "missing-credentials", "Missing credentials")
FORBIDDEN = Problem(403, 801403, "forbidden", "Not allowed for your role")
NOT_FOUND = Problem(404, 801404, "not-found", "Not found")
METHOD_NOT_ALLOWED = Problem(405, 801405, "control-method-not-allowed", "Method not allowed")
CONFLICT = Problem(409, 801409, "conflict", "Conflict")
TOO_LARGE = Problem(413, 801413, "control-payload-too-large", "Request body too large")
UNSUPPORTED_MEDIA = Problem(415, 801415, "unsupported-media-type", "Expected application/json")
INVALID = Problem(422, 801422, "validation-failed", "Invalid request")
TOO_MANY_SIGNINS = Problem(429, 801429, "too-many-sign-in-failures", "Too many failed sign-ins")
WEBHOOK_SIGNATURE = Problem(401, 801431, "webhook-bad-signature", "Webhook signature missing or wrong")
WEBHOOK_STALE = Problem(401, 801432, "webhook-stale-timestamp", "Webhook timestamp outside the allowed window")
WEBHOOK_REPLAYED = Problem(409, 801433, "webhook-replayed", "Webhook request already received")
INTERNAL = Problem(500, 801500, "control-internal-error", "Internal control API error")
STORE_UNAVAILABLE = Problem(503, 801503, "store-unavailable", "Catalog store unavailable")

RETRY_AFTER = "2"  # seconds: the store pool reconnects on the next request after an outage

ALL = (
    BAD_REQUEST,
    INVALID_CREDENTIALS,
    MISSING_CREDENTIALS,
    FORBIDDEN,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    CONFLICT,
    TOO_LARGE,
    UNSUPPORTED_MEDIA,
    INVALID,
    TOO_MANY_SIGNINS,
    WEBHOOK_SIGNATURE,
    WEBHOOK_STALE,
    WEBHOOK_REPLAYED,
    INTERNAL,
    STORE_UNAVAILABLE,
)


class ApiError(Exception):
    def __init__(self, problem: Problem, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.problem = problem
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def invalid(errors: list[dict[str, Any]]) -> ApiError:
    """422 with field problems: [{"loc": ["body", "email"], "msg": "...", "type": "..."}]."""
    fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors[:5])
    return ApiError(INVALID, f"{len(errors)} invalid field(s): {fields}", errors=errors)


def problem_response(error: ApiError, request_id: str, headers: dict[str, str] | None = None) -> Response:
    body = problem_body(error.problem, error.detail, request_id, **error.extra)
    return Response(
        body,
        status_code=error.problem.status,
        media_type="application/problem+json",
        headers={"x-request-id": request_id, **error.headers, **(headers or {})},
    )
