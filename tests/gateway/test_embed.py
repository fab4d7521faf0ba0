"""Policies are pure ASGI middleware: the same classes guard a plain Starlette app behind uvicorn."""

from __future__ import annotations

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.config.errors import ConfigError
from gateway.embed import PolicyHost

from ..servers import serve


async def hello(request: Request) -> JSONResponse:
    ctx = request.scope["gateway"]
    return JSONResponse({"path": request.url.path, "request_id": ctx.request_id.decode()})


def _app(policies: list[dict]) -> Starlette:
    return Starlette(
        routes=[Route("/hello", hello)], middleware=[Middleware(PolicyHost, policies=policies, context="/demo")]
    )


async def test_throttle_and_headers_policies_guard_a_starlette_app() -> None:
    app = _app(
        [
            {"throttle": {"api": [{"name": "per-app", "limit": "2/minute"}]}},
            {"headers": {"response": {"set": {"x-served-by": "splp-policy"}}}},
        ]
    )
    async with serve(app) as port, aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{port}/hello"
        seen = []
        for _ in range(3):
            async with http.get(url, headers={"x-request-id": "abc-1"}) as response:
                seen.append((response.status, response.headers, await response.json()))
    assert [s[0] for s in seen] == [200, 200, 429]
    first, _, refused = seen
    assert first[2] == {"path": "/hello", "request_id": "abc-1"}
    assert first[1]["x-served-by"] == "splp-policy"  # the headers policy edits the app's response
    assert first[1]["ratelimit-policy"] == '"per-app";q=2;w=60'  # queued by throttle, added by the host
    assert first[1]["x-ratelimit-remaining"] == "1"
    assert refused[2]["code"] == 900800 and refused[2]["policy"] == "per-app"  # throttle answered, app never ran


def test_bad_policy_config_names_the_key_path() -> None:
    with pytest.raises(ConfigError, match=r"policies\[0\]\.throttle"):
        _app([{"throttle": {"api": [{"name": "x", "limit": "lots"}]}}]).build_middleware_stack()
