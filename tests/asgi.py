"""ASGI fakes for unit tests of policies: a scope builder, a recording send, a receive that must not run."""

from __future__ import annotations

from typing import Any

from gateway.context import RequestContext


def make_scope(
    method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None, path: str = "/x"
) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers or [],
        "scheme": "http",
        "client": ("127.0.0.1", 5000),
    }
    scope["gateway"] = RequestContext(b"rid-1", None, None, None, b"/x", "127.0.0.1", b"gw")  # type: ignore[arg-type]
    return scope


class SendRecorder:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"])


async def receive_never() -> dict[str, Any]:
    raise AssertionError("receive() must not be awaited by a short-circuiting policy")


class Downstream:
    """The app behind a policy: records that it ran and answers 200."""

    def __init__(self) -> None:
        self.called = False
        self.scope: dict[str, Any] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.called = True
        self.scope = scope
        await send({"type": "http.response.start", "status": 200, "headers": [(b"server", b"backend"), (b"x-a", b"1")]})
        await send({"type": "http.response.body", "body": b"ok", "more_body": False})
