"""Header edits (phase: payload band, PRIORITY 900): remove, rename, set, add on request and response.

Edits run in that order. The request side rewrites scope["headers"] before the proxy reads it; the
response side wraps send() only when response edits are configured. Never buffers a body.
"""

from __future__ import annotations

from pydantic import BaseModel

from gateway.types import ASGIApp, Message, PolicyDeps, Receive, Scope, Send
from policies.headers.schema import HeaderEdits, HeadersConfig

Headers = list[tuple[bytes, bytes]]


class CompiledEdits:
    __slots__ = ("drop", "rename", "set", "add")

    def __init__(self, edits: HeaderEdits) -> None:
        self.rename = {k.lower().encode(): v.lower().encode() for k, v in edits.rename.items()}
        self.set = [(k.lower().encode(), v.encode("latin-1")) for k, v in edits.set.items()]
        self.add = [(k.lower().encode(), v.encode("latin-1")) for k, v in edits.add.items()]
        # removed names and names that `set` replaces are dropped in the same pass
        self.drop = frozenset(n.lower().encode() for n in edits.remove) | {name for name, _ in self.set}

    def apply(self, headers: Headers) -> Headers:
        rename = self.rename
        drop = self.drop
        out = []
        for name, value in headers:
            if rename:
                name = rename.get(name, name)
            if name not in drop:
                out.append((name, value))
        out.extend(self.set)
        out.extend(self.add)
        return out

    @property
    def empty(self) -> bool:
        return not (self.rename or self.set or self.add or self.drop)


class HeadersPolicy:
    NAME = "headers"
    PRIORITY = 900
    Config: type[BaseModel] = HeadersConfig

    def __init__(self, app: ASGIApp, config: HeadersConfig, *, deps: PolicyDeps) -> None:
        self.app = app
        request = CompiledEdits(config.request)
        response = CompiledEdits(config.response)
        self._request = None if request.empty else request
        self._response = None if response.empty else response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._request is not None:
            scope["headers"] = self._request.apply(scope["headers"])
        if self._response is None:
            return await self.app(scope, receive, send)
        edits = self._response

        async def send_edited(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = edits.apply(list(message.get("headers", ())))
            await send(message)

        await self.app(scope, receive, send_edited)
