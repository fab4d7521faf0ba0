"""JWE payload encryption (phase: payload, PRIORITY 900). BUFFERS whole bodies, up to max_body_bytes (413).

Consumer side: a request body sent as compact JWE (application/jose) is decrypted with the API's private
key before the backend sees it; the response body is encrypted to the calling application's registered
public key (RSA-OAEP-256 or ECDH-ES+A256KW, A256GCM). The application comes from the auth or mtls policy
(both run earlier); without one holding a key the call is refused before the backend (fail-closed).
Backend side (reverse mode): the plain body is encrypted to the backend's key, and a JWE answer from the
backend is decrypted. Problem responses (application/problem+json) are never encrypted: they carry no
payload and the caller must be able to read them. Large bodies are processed in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from gateway import errors
from gateway.context import RequestContext
from gateway.types import ASGIApp, Message, PolicyDeps, Receive, Scope, Send
from policies.encryption import errors as problems
from policies.encryption.jose import Decryptor, Encryptor, JweRefusal, load_key
from policies.encryption.schema import JweConfig

JOSE = b"application/jose"
_PROBLEM = b"application/problem+json"
_OFFLOAD_BYTES = 256 * 1024  # above this, crypto runs in a thread so the loop keeps serving


async def _crypto(func: Callable[..., Any], *args: Any) -> Any:
    size = len(args[0]) if args and isinstance(args[0], bytes) else 0
    if size > _OFFLOAD_BYTES:
        return await asyncio.to_thread(func, *args)
    return func(*args)


class _TooLarge(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ConnectionResetError("client disconnected while sending the body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _with_body(headers: list[tuple[bytes, bytes]], length: int, content_type: bytes) -> list[tuple[bytes, bytes]]:
    kept = [(n, v) for n, v in headers if n not in (b"content-length", b"transfer-encoding", b"content-type")]
    kept.append((b"content-type", content_type))
    kept.append((b"content-length", str(length).encode()))
    return kept


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> bytes | None:
    for name, value in headers:
        if name == wanted:
            return value
    return None


def _cty(header: dict[str, Any]) -> bytes:
    cty = header.get("cty")
    if not isinstance(cty, str) or not cty or "\r" in cty or "\n" in cty:
        return b"application/json"
    return (cty if "/" in cty else f"application/{cty}").encode("latin-1", "replace")


class JwePolicy:
    NAME = "jwe"
    PRIORITY = 900
    Config: type[BaseModel] = JweConfig

    def __init__(self, app: ASGIApp, config: JweConfig, *, deps: PolicyDeps) -> None:
        self.app = app
        # config-derived
        prefix = deps.api.config.prefix
        private = load_key(config.private_key, owner=f"jwe:{prefix}") if config.private_key else None
        self._decryptor = Decryptor(private, config.algorithms) if private is not None else None
        self._request = config.request
        self._encrypt_response = config.response == "encrypt"
        backend_key = config.backend_public_key
        self._backend_key = Encryptor(load_key(backend_key, owner="")) if backend_key else None
        self._encrypt_backend = config.backend_request == "encrypt"
        self._decrypt_backend = config.backend_response == "decrypt"
        self._limit = config.max_body_bytes
        self._recipients: dict[str, Encryptor] = {}
        if self._encrypt_response:
            for application in deps.gateway.applications:
                if application.jwe_public_key:
                    self._recipients[application.id] = Encryptor(load_key(application.jwe_public_key, owner=""))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx: RequestContext = scope["gateway"]
        try:
            recipient = self._recipient(ctx) if self._encrypt_response else None
            receive = await self._request_body(scope, receive)
        except JweRefusal as refusal:
            return await errors.send_problem(send, refusal.problem, refusal.detail, ctx.request_id)
        except _TooLarge:
            detail = f"bodies over {self._limit} bytes cannot be decrypted or encrypted here"
            headers = [(b"connection", b"close")]
            return await errors.send_problem(send, problems.JWE_TOO_LARGE, detail, ctx.request_id, headers=headers)
        if recipient is None and not self._decrypt_backend:
            return await self.app(scope, receive, send)
        await self.app(scope, receive, self._response_sender(send, ctx, recipient))

    def _recipient(self, ctx: RequestContext) -> Encryptor:
        application = ctx.application
        app_id = getattr(application, "id", None)
        key = self._recipients.get(app_id) if isinstance(app_id, str) else None
        if key is None:
            who = f"application {app_id}" if app_id else "an unidentified caller"
            raise JweRefusal(problems.JWE_NO_RECIPIENT, f"{who} has no jwe_public_key to encrypt the response to")
        return key

    async def _request_body(self, scope: Scope, receive: Receive) -> Receive:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        content_type = (_header(headers, b"content-type") or b"").split(b";")[0].strip().lower()
        length = _header(headers, b"content-length")
        has_body = _header(headers, b"transfer-encoding") is not None or (length is not None and length != b"0")
        if not has_body:
            return receive
        plain: bytes | None = None
        plain_type = content_type
        if self._request != "off":
            decryptor = self._decryptor  # never None here: the config requires private_key when request != off
            if content_type == JOSE and decryptor is not None:
                token = await _read_body(receive, self._limit)
                plain, header = await _crypto(decryptor.decrypt, token)
                plain_type = _cty(header)
            elif self._request == "required":
                raise JweRefusal(problems.JWE_REQUIRED, "this API takes request bodies as JWE (application/jose)")
        if self._encrypt_backend and self._backend_key is not None:
            if plain is None:
                plain = await _read_body(receive, self._limit)
            sealed = await _crypto(self._backend_key.encrypt, plain, plain_type.decode("latin-1") or None)
            scope["headers"] = _with_body(headers, len(sealed), JOSE)
            return _replay(sealed, receive)
        if plain is None:
            return receive
        scope["headers"] = _with_body(headers, len(plain), plain_type)
        return _replay(plain, receive)

    def _response_sender(self, send: Send, ctx: RequestContext, recipient: Encryptor | None) -> Send:
        """Holds the response start, collects the body, then sends it decrypted and/or encrypted."""
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        refused = False
        limit = self._limit
        decryptor = self._decryptor if self._decrypt_backend else None

        async def finish(body: bytes, message: Message) -> None:
            headers: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
            content_type = (_header(headers, b"content-type") or b"").split(b";")[0].strip().lower()
            if content_type == _PROBLEM or not body:
                return await _send_all(send, message, headers, body)
            try:
                if decryptor is not None and content_type == JOSE:
                    body, header = await _crypto(decryptor.decrypt, body)
                    content_type = _cty(header)
                    headers = _with_body(headers, len(body), content_type)
                if recipient is not None:
                    body = await _crypto(recipient.encrypt, body, content_type.decode("latin-1") or None)
                    headers = _with_body(headers, len(body), JOSE)
            except JweRefusal as refusal:
                detail = f"backend response: {refusal.detail}"
                return await errors.send_problem(send, problems.BACKEND_JWE, detail, ctx.request_id)
            return await _send_all(send, message, headers, body)

        async def sender(message: Message) -> None:
            nonlocal start, size, refused
            kind = message["type"]
            if kind == "http.response.start":
                start = message
                return
            if kind != "http.response.body" or start is None:
                return await send(message)
            if refused:
                return  # the rest of an oversized backend body is drained unsent
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                refused = True
                chunks.clear()
                detail = f"the backend response is over {limit} bytes, too large to encrypt"
                return await errors.send_problem(send, problems.BACKEND_JWE, detail, ctx.request_id)
            chunks.append(chunk)
            if not message.get("more_body", False):
                await finish(b"".join(chunks), start)

        return sender


async def _send_all(send: Send, start: Message, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [(n, v) for n, v in headers if n != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
