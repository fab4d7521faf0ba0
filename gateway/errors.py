"""Every error the gateway itself produces: RFC 9457 application/problem+json.

Members: type, title, status, detail, plus the extensions `code` (the numeric code WSO2 API Manager
uses for the same case, so consumers migrating from today's SPLP keep their error handling; SPLP's
own 8xxxxx code where WSO2 has none) and `request_id`. The table below is the documented list.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import formatdate

import orjson

from gateway.types import Send

CONTENT_TYPE = (b"content-type", b"application/problem+json")


@dataclass(frozen=True, slots=True)
class Problem:
    status: int
    code: int
    slug: str
    title: str

    @property
    def type(self) -> str:
        return f"urn:splp:problem:{self.slug}"


BAD_REQUEST = Problem(400, 800400, "bad-request", "Bad Request")
INVALID_PATH = Problem(400, 800401, "invalid-path", "Invalid request path")
INVALID_HEADER_NAME = Problem(400, 800441, "invalid-header-name", "Header name not accepted")
INVALID_HOST = Problem(400, 800440, "invalid-host", "Invalid Host header")
NO_API = Problem(404, 900906, "no-matching-api", "No API matches the request path")
NO_RESOURCE = Problem(404, 900906, "no-matching-resource", "No matching resource found in the API for the request")
METHOD_NOT_ALLOWED = Problem(405, 800405, "method-not-allowed", "Method not allowed for this resource")
REQUEST_TIMEOUT = Problem(408, 800408, "request-timeout", "Request not received in time")
PAYLOAD_TOO_LARGE = Problem(413, 800413, "payload-too-large", "Request body too large")
URI_TOO_LONG = Problem(414, 800414, "uri-too-long", "URI Too Long")
HEADERS_TOO_LARGE = Problem(431, 800431, "headers-too-large", "Request Header Fields Too Large")
INTERNAL = Problem(500, 800500, "internal-error", "Internal gateway error")
BACKEND_UNREACHABLE = Problem(502, 101503, "backend-unreachable", "Backend unreachable")
BACKEND_BAD_RESPONSE = Problem(502, 101506, "backend-protocol-violation", "Backend sent an invalid response")
BACKEND_CLOSED = Problem(502, 101505, "backend-connection-closed", "Backend closed the connection")
BACKENDS_UNHEALTHY = Problem(503, 303001, "backends-suspended", "All backend endpoints are suspended")
NOT_READY = Problem(503, 800503, "not-ready", "Gateway not ready")
BACKEND_TIMEOUT = Problem(504, 101504, "backend-timeout", "Backend timed out")

ALL = (
    BAD_REQUEST,
    INVALID_PATH,
    INVALID_HEADER_NAME,
    INVALID_HOST,
    REQUEST_TIMEOUT,
    NO_API,
    NO_RESOURCE,
    METHOD_NOT_ALLOWED,
    PAYLOAD_TOO_LARGE,
    URI_TOO_LONG,
    HEADERS_TOO_LARGE,
    INTERNAL,
    BACKEND_UNREACHABLE,
    BACKEND_BAD_RESPONSE,
    BACKEND_CLOSED,
    BACKENDS_UNHEALTHY,
    NOT_READY,
    BACKEND_TIMEOUT,
)


def problem_body(problem: Problem, detail: str, request_id: bytes | str | None, **extra: object) -> bytes:
    if isinstance(request_id, bytes):
        request_id = request_id.decode("latin-1")
    return orjson.dumps(
        {
            "type": problem.type,
            "title": problem.title,
            "status": problem.status,
            "detail": detail,
            "code": problem.code,
            "request_id": request_id,
            **extra,
        }
    )


async def send_problem(
    send: Send,
    problem: Problem,
    detail: str,
    request_id: bytes | None,
    headers: list[tuple[bytes, bytes]] | None = None,
    **extra: object,
) -> None:
    """Sends one complete problem+json response. Rare path: the body is built per call."""
    body = problem_body(problem, detail, request_id, **extra)
    response_headers = [
        CONTENT_TYPE,
        (b"content-length", str(len(body)).encode()),
        (b"date", formatdate(usegmt=True).encode()),
    ]
    if request_id:
        response_headers.append((b"x-request-id", request_id))
    if headers:
        response_headers.extend(headers)
    await send({"type": "http.response.start", "status": problem.status, "headers": response_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
