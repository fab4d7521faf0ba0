from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from policies.cors.policy import CorsPolicy
from policies.cors.schema import CorsConfig
from tests.asgi import Downstream, SendRecorder, make_scope, receive_never


def policy(**config):
    app = Downstream()
    return CorsPolicy(app, CorsConfig(**config), deps=None), app  # type: ignore[arg-type]


async def test_preflight_answered_without_downstream_or_body():
    cors, app = policy(allow_origins=["https://portal.go.id"], allow_headers=["authorization"])
    send = SendRecorder()
    headers = [
        (b"origin", b"https://portal.go.id"),
        (b"access-control-request-method", b"PUT"),
        (b"access-control-request-headers", b"Authorization"),
    ]
    await cors(make_scope("OPTIONS", headers), receive_never, send)
    assert send.status == 204 and not app.called
    assert send.headers[b"access-control-allow-origin"] == b"https://portal.go.id"
    assert b"PUT" in send.headers[b"access-control-allow-methods"]


@pytest.mark.parametrize(
    ("origin", "method", "asked", "reason"),
    [
        (b"https://evil.example", b"GET", b"", "origin 'https://evil.example' is not allowed"),
        (b"https://portal.go.id", b"TRACE", b"", "method 'TRACE' is not allowed"),
        (b"https://portal.go.id", b"GET", b"x-other", "headers x-other are not allowed"),
    ],
)
async def test_preflight_refused_with_reason(origin, method, asked, reason):
    cors, app = policy(allow_origins=["https://portal.go.id"], allow_headers=["authorization"])
    send = SendRecorder()
    headers = [(b"origin", origin), (b"access-control-request-method", method)]
    if asked:
        headers.append((b"access-control-request-headers", asked))
    await cors(make_scope("OPTIONS", headers), receive_never, send)
    body = orjson.loads(send.messages[1]["body"])
    assert send.status == 403 and not app.called
    assert body["detail"] == f"CORS preflight refused: {reason}" and body["code"] == 800403


async def test_actual_request_gets_headers_only_for_allowed_origin():
    cors, app = policy(allow_origins=["https://portal.go.id"], expose_headers=["x-total"])
    send = SendRecorder()
    await cors(make_scope("GET", [(b"origin", b"https://portal.go.id")]), receive_never, send)
    assert app.called and send.headers[b"access-control-allow-origin"] == b"https://portal.go.id"
    assert send.headers[b"access-control-expose-headers"] == b"x-total" and send.headers[b"vary"] == b"Origin"
    other = SendRecorder()
    await cors(make_scope("GET", [(b"origin", b"https://evil.example")]), receive_never, other)
    assert b"access-control-allow-origin" not in other.headers


def test_credentials_need_explicit_origins():
    with pytest.raises(ValidationError, match="allow_credentials requires explicit allow_origins"):
        CorsConfig(allow_origins=["*"], allow_credentials=True)
