from __future__ import annotations

import pytest
from pydantic import ValidationError

from policies.headers.policy import HeadersPolicy
from policies.headers.schema import HeadersConfig
from tests.asgi import Downstream, SendRecorder, make_scope, receive_never


async def test_request_and_response_edits_in_order():
    config = HeadersConfig.model_validate(
        {
            "request": {
                "remove": ["X-Internal"],
                "rename": {"X-Old": "X-New"},
                "set": {"X-Gw": "splp"},
                "add": {"X-Tag": "a"},
            },
            "response": {"remove": ["Server"], "set": {"X-A": "2"}},
        }
    )
    app = Downstream()
    send = SendRecorder()
    scope = make_scope(headers=[(b"x-internal", b"1"), (b"x-old", b"v"), (b"x-gw", b"client"), (b"x-tag", b"c")])
    await HeadersPolicy(app, config, deps=None)(scope, receive_never, send)  # type: ignore[arg-type]
    assert app.scope["headers"] == [(b"x-new", b"v"), (b"x-tag", b"c"), (b"x-gw", b"splp"), (b"x-tag", b"a")]
    assert send.messages[0]["headers"] == [(b"x-a", b"2")]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"request": {"set": {"Transfer-Encoding": "chunked"}}}, "managed by the gateway"),
        ({"request": {"add": {"X-A": "a\r\nInjected: 1"}}}, "contains CR, LF or NUL"),
        ({"response": {"remove": ["bad header"]}}, "is not a header name"),
        ({}, "no edits"),
    ],
)
def test_invalid_configs(config, message):
    with pytest.raises(ValidationError, match=message):
        HeadersConfig.model_validate(config)
