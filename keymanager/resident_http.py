"""HTTP endpoints of the resident OAuth2 server, routed by GatewayApp before API routing:

    POST /oauth2/token        RFC 6749: client_credentials, password, refresh_token
                              client authentication: client_secret_basic or client_secret_post (not both)
    POST /oauth2/revoke       RFC 7009 (client authenticated; a client can revoke only its own tokens)
    POST /oauth2/introspect   RFC 7662 (client authenticated)
    GET  /oauth2/jwks         the published signing keys (active + retired within the overlap)
    GET  /.well-known/openid-configuration, /.well-known/oauth-authorization-server   discovery

Secrets are checked with scrypt in a worker thread, so the event loop never stalls; unknown clients cost the
same as known ones. Bodies are form-encoded, at most 64 KiB, each parameter at most once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

import orjson

from gateway.config.consumers import ApplicationConfig
from keymanager.cache import token_key
from keymanager.errors import AuthFailure
from keymanager.hashing import hash_secret, verify_secret
from keymanager.registry import KeyManagerSet, key_managers
from keymanager.resident import ACCESS_TYP, ResidentKeyManager

if TYPE_CHECKING:
    from gateway.config.model import GatewayConfig
    from gateway.types import Receive, Scope, Send, WorkerResources

log = logging.getLogger("splp.keymanager")
PREFIXES = ("/oauth2/", "/.well-known/")
MAX_BODY = 65536
_DUMMY_HASH = hash_secret("never-a-secret", n=2**14)
_NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400, basic: bool = False) -> None:
        super().__init__(description)
        self.error, self.description, self.status, self.basic = error, description, status, basic


async def _respond(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *_NO_STORE,
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data, "more_body": False})


async def _read_form(scope: Scope, receive: Receive) -> dict[str, str]:
    content_type = b""
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.split(b";")[0].strip().lower()
    if content_type != b"application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise OAuthError("invalid_request", "the client disconnected")
        body += message.get("body", b"")
        if len(body) > MAX_BODY:
            raise OAuthError("invalid_request", f"the body is larger than {MAX_BODY} bytes", 413)
        if not message.get("more_body", False):
            break
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body is not a valid form") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise OAuthError("invalid_request", f"the parameter {key} is repeated")
        form[key] = value
    return form


class OAuthEndpoints:
    """An ASGI app for the PREFIXES paths. `current` returns the config the data plane is serving now."""

    def __init__(self, services: WorkerResources, current: Callable[[], GatewayConfig]) -> None:
        self._services = services
        self._current = current

    def _set(self) -> KeyManagerSet:
        return key_managers(self._services).for_config(self._current())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        kms = self._set()
        resident = kms.resident
        if resident is None:
            return await _respond(send, 404, {"error": "not_found", "error_description": "no resident key manager"})
        routes: dict[str, tuple[str, Any]] = {
            "/oauth2/token": ("POST", self._token),
            "/oauth2/revoke": ("POST", self._revoke),
            "/oauth2/introspect": ("POST", self._introspect),
            "/oauth2/jwks": ("GET", self._jwks),
            "/.well-known/openid-configuration": ("GET", self._discovery),
            "/.well-known/oauth-authorization-server": ("GET", self._discovery),
        }
        route = routes.get(path)
        if route is None:
            return await _respond(send, 404, {"error": "not_found", "error_description": f"no endpoint {path}"})
        allowed, handler = route
        if method != allowed and not (allowed == "GET" and method == "HEAD"):
            return await _respond(
                send,
                405,
                {"error": "invalid_request", "error_description": f"use {allowed}"},
                [(b"allow", allowed.encode())],
            )
        try:
            status, body = await handler(scope, receive, kms, resident)
        except OAuthError as exc:
            headers = [(b"www-authenticate", b'Basic realm="splp"')] if exc.basic else None
            return await _respond(send, exc.status, {"error": exc.error, "error_description": exc.description}, headers)
        except Exception:
            log.exception("OAuth2 endpoint %s failed", path)
            return await _respond(send, 500, {"error": "server_error", "error_description": "internal error"})
        await _respond(send, status, body)

    # -- client authentication ---------------------------------------------------------------------------------

    async def _client(
        self, scope: Scope, form: dict[str, str], kms: KeyManagerSet, resident: ResidentKeyManager
    ) -> ApplicationConfig:
        basic = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, rest = value.partition(b" ")
                if scheme.lower() == b"basic":
                    basic = rest.strip()
        has_post = "client_secret" in form
        if basic is not None and has_post:
            raise OAuthError("invalid_request", "use one client authentication method, not two")
        if basic is not None:
            try:
                client_id, sep, secret = base64.b64decode(basic, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_client", "the Basic credentials are malformed", 401, basic=True) from None
            if not sep:
                raise OAuthError("invalid_client", "the Basic credentials are malformed", 401, basic=True)
            client_id, secret = unquote(client_id), unquote(secret)
        elif has_post:
            client_id, secret = form.get("client_id", ""), form["client_secret"]
        else:
            raise OAuthError("invalid_client", "client authentication is required", 401, basic=True)
        app = kms.applications.get(client_id)
        usable = app is not None and resident.name in app.key_managers and app.client_secret_hash is not None
        stored = app.client_secret_hash if usable and app is not None else _DUMMY_HASH
        ok = await asyncio.to_thread(verify_secret, secret, stored or _DUMMY_HASH)
        if not (ok and usable) or app is None:
            raise OAuthError("invalid_client", "unknown client or wrong secret", 401, basic=basic is not None)
        if app.blocked:
            raise OAuthError("invalid_client", "the application is blocked", 401, basic=basic is not None)
        return app

    # -- endpoints ---------------------------------------------------------------------------------------------

    async def _token(
        self, scope: Scope, receive: Receive, kms: KeyManagerSet, resident: ResidentKeyManager
    ) -> tuple[int, Any]:
        form = await _read_form(scope, receive)
        app = await self._client(scope, form, kms, resident)
        grant = form.get("grant_type", "")
        if grant not in ("client_credentials", "password", "refresh_token"):
            raise OAuthError("unsupported_grant_type", f"grant_type {grant!r} is not supported")
        if grant not in app.grant_types:
            raise OAuthError("unauthorized_client", f"the application may not use the {grant} grant")
        requested = frozenset(form["scope"].split()) if "scope" in form else None
        user = None
        if grant == "client_credentials":
            allowed = frozenset(app.scopes)
        elif grant == "password":
            username, password = form.get("username", ""), form.get("password", "")
            user = resident.users.get(username)
            ok = await asyncio.to_thread(verify_secret, password, user.password_hash if user else _DUMMY_HASH)
            if user is None or not ok:
                raise OAuthError("invalid_grant", "wrong username or password")
            if user.blocked:
                raise OAuthError("invalid_grant", "the user is blocked")
            allowed = frozenset(app.scopes) & frozenset(user.scopes)
        else:
            if not form.get("refresh_token"):
                raise OAuthError("invalid_request", "the refresh_token parameter is required")
            try:
                claims = await resident.refresh_claims(form["refresh_token"])
            except AuthFailure as exc:
                raise OAuthError("invalid_grant", f"the refresh token is not valid: {exc.description}") from None
            if claims.get("client_id") != app.id:
                raise OAuthError("invalid_grant", "the refresh token was issued to another client")
            owner = claims.get("username")
            if owner is not None:
                user = resident.users.get(owner)
                if user is None or user.blocked:
                    raise OAuthError("invalid_grant", "the user is unknown or blocked")
            allowed = frozenset(str(claims.get("scope", "")).split())
            kms.registry.revoke(resident.name, claims["jti"], float(claims["exp"]), None)  # rotation
        scopes = allowed if requested is None else requested
        if not scopes <= allowed:
            raise OAuthError("invalid_scope", f"scopes not allowed: {' '.join(sorted(scopes - allowed))}")
        audience = kms.subscribed.get(app.id, ()) if resident.config.subscribed_audience else ()
        answer = await resident.issue(app, scopes, user, with_refresh=grant != "client_credentials", audience=audience)
        return 200, answer

    async def _revoke(
        self, scope: Scope, receive: Receive, kms: KeyManagerSet, resident: ResidentKeyManager
    ) -> tuple[int, Any]:
        form = await _read_form(scope, receive)
        app = await self._client(scope, form, kms, resident)
        token = form.get("token")
        if not token:
            raise OAuthError("invalid_request", "the token parameter is required")
        found = await self._find(token, resident)
        if found is not None:
            typ, claims = found
            if claims.get("client_id") == app.id:  # RFC 7009 2.1: only the client's own tokens
                cache_key = token_key(token) if typ == ACCESS_TYP else None
                kms.registry.revoke(
                    resident.name, claims["jti"], float(claims["exp"]) + resident.config.leeway, cache_key
                )
        return 200, {}  # RFC 7009: 200 also for unknown or invalid tokens

    async def _introspect(
        self, scope: Scope, receive: Receive, kms: KeyManagerSet, resident: ResidentKeyManager
    ) -> tuple[int, Any]:
        form = await _read_form(scope, receive)
        await self._client(scope, form, kms, resident)
        token = form.get("token")
        if not token:
            raise OAuthError("invalid_request", "the token parameter is required")
        found = await self._find(token, resident)
        if found is None:
            return 200, {"active": False}
        typ, claims = found
        app = kms.applications.get(str(claims.get("client_id")))
        if app is None or app.blocked:
            return 200, {"active": False}
        answer: dict[str, Any] = {
            k: claims[k]
            for k in ("scope", "client_id", "username", "exp", "iat", "nbf", "sub", "aud", "iss", "jti")
            if k in claims
        }
        answer.update(active=True, token_type="access_token" if typ == ACCESS_TYP else "refresh_token")
        return 200, answer

    async def _find(self, token: str, resident: ResidentKeyManager) -> tuple[str, dict[str, Any]] | None:
        if len(token) > 8192:
            return None
        return await resident.any_token(token)

    async def _jwks(
        self, scope: Scope, receive: Receive, kms: KeyManagerSet, resident: ResidentKeyManager
    ) -> tuple[int, Any]:
        if time.time() - resident.ring.active.created >= resident.config.rotate_after:
            await resident.reload_keys()
        return 200, resident.jwks()

    async def _discovery(
        self, scope: Scope, receive: Receive, kms: KeyManagerSet, resident: ResidentKeyManager
    ) -> tuple[int, Any]:
        host = next((v.decode("latin-1") for n, v in scope["headers"] if n == b"host"), "localhost")
        base = f"{scope.get('scheme', 'http')}://{host}"
        return 200, {
            "issuer": resident.issuer,
            "token_endpoint": f"{base}/oauth2/token",
            "jwks_uri": f"{base}/oauth2/jwks",
            "revocation_endpoint": f"{base}/oauth2/revoke",
            "introspection_endpoint": f"{base}/oauth2/introspect",
            "grant_types_supported": ["client_credentials", "password", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "response_types_supported": ["token"],
            "id_token_signing_alg_values_supported": [resident.config.algorithm],
            "scopes_supported": sorted({s for app in kms.applications.values() for s in app.scopes}),
        }
