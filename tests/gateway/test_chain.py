from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from gateway.chain import build_chain, ordered
from gateway.config.model import PolicySpec
from tests.asgi import SendRecorder, make_scope, receive_never


class Empty(BaseModel):
    pass


def make_policy(name: str, priority: int, calls: list[str], reject: bool = False) -> type:
    class Recorder:
        NAME = name
        PRIORITY = priority
        Config: ClassVar[type[BaseModel]] = Empty

        def __init__(self, app: Any, config: Any, *, deps: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            calls.append(name)
            if reject:
                await send({"type": "http.response.start", "status": 429, "headers": []})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await self.app(scope, receive, send)

    return Recorder


async def test_order_by_priority_then_name_and_reject_stops_downstream():
    calls: list[str] = []
    specs = [
        PolicySpec("throttle", make_policy("throttle", 1000, calls, reject=True), Empty()),
        PolicySpec("b-observe", make_policy("b-observe", 3000, calls), Empty()),
        PolicySpec("a-observe", make_policy("a-observe", 3000, calls), Empty()),
        PolicySpec("payload", make_policy("payload", 900, calls), Empty()),
    ]
    assert [s.name for s in ordered(specs)] == ["a-observe", "b-observe", "throttle", "payload"]

    async def terminal(scope: Any, receive: Any, send: Any) -> None:
        calls.append("proxy")

    send = SendRecorder()
    await build_chain(terminal, specs, deps=None)(make_scope(), receive_never, send)  # type: ignore[arg-type]
    assert calls == ["a-observe", "b-observe", "throttle"] and send.status == 429
