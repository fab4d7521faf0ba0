"""Authentication and authorization (PRIORITY 2000, the authenticate band; it also does the authorize work of
band 1500 in the same call, so a token is looked up once).

Credentials: `Authorization: Bearer <token>` (a JWT routed to its key manager by `iss`, or an opaque token
sent to the introspection key managers in `opaque_order`), or an API key in the header/query named by the
apikey key manager. Validated principals are cached per worker by sha256(token) until their expiry: a cached
valid token costs one hash and a few dict lookups, no signature check and no I/O.
Authorization: the token's audience when the API names one (401), blocked application or user (403 900909),
application bound to other key managers or another tenant (403 900908), subscription to this API (403 900908
not subscribed, 900907 blocked), per-resource scopes (403 900910, the only `insufficient_scope`).
Never buffers; fail-closed (a key manager that cannot decide answers 503). `enforce: false` is shadow mode:
failures are logged and the request continues unauthenticated.
The backend gets identity headers (client-sent copies removed), optionally a signed X-JWT-Assertion, and the
consumer's raw credentials only with `forward_credentials: true`.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

import jwt
from pydantic import BaseModel

from gateway.config.model import ResourceConfig
from gateway.context import RequestContext
from gateway.types import ASGIApp, PolicyDeps, Receive, Scope, Send
from keymanager.apikey import ApiKeyManager
from keymanager.base import KeyManager, Principal
from keymanager.cache import token_key
from keymanager.errors import (
    AuthFailure,
    Blocked,
    Forbidden,
    InvalidToken,
    KeyManagerUnavailable,
    MissingCredentials,
    NotSubscribed,
    ScopeNotAllowed,
    SubscriptionBlocked,
    TokenInactive,
)
from keymanager.introspection import IntrospectionKeyManager
from keymanager.jose import audience_matches, parse
from keymanager.registry import key_managers
from keymanager.resident import ResidentKeyManager
from policies.auth.errors import send_failure
from policies.auth.schema import AuthConfig

log = logging.getLogger("splp.auth")

_FIELDS: dict[str, Callable[[Principal], str]] = {
    "application": lambda p: p.application or "",
    "subject": lambda p: p.subject,
    "username": lambda p: p.username or "",
    "tenant": lambda p: p.tenant or "",
    "scopes": lambda p: " ".join(sorted(p.scopes)),
    "key_manager": lambda p: p.key_manager,
    "issuer": lambda p: p.issuer,
}


def _audiences(config: AuthConfig, accepted: Iterable[KeyManager], prefix: str) -> dict[str, frozenset[str]]:
    """Key manager name -> the `aud` values this API accepts from its tokens (absent: no check here).

    The API's `audience` applies to every token key manager. Without it, when the resident key manager puts
    the subscribed APIs in `aud` (subscribed_audience), its tokens must name this API if the API requires a
    subscription. API keys carry no audience."""
    audiences: dict[str, frozenset[str]] = {}
    for km in accepted:
        if km.kind == "apikey":
            continue
        if config.audience:
            audiences[km.name] = frozenset(config.audience)
        elif isinstance(km, ResidentKeyManager) and km.config.subscribed_audience and config.subscription_required:
            audiences[km.name] = frozenset({prefix})
    return audiences


class AuthPolicy:
    NAME = "auth"
    PRIORITY = 2000
    Config: type[BaseModel] = AuthConfig

    def __init__(self, app: ASGIApp, config: AuthConfig, *, deps: PolicyDeps) -> None:
        self.app = app
        # shared (per worker, outlive snapshots)
        self._registry = key_managers(deps.services)
        kms = self._registry.for_config(deps.gateway)
        self._cache = self._registry.cache
        # config-derived
        names = config.key_managers or tuple(kms.by_name)
        for name in names:
            if name not in kms.by_name:
                known = ", ".join(kms.by_name) or "none"
                raise ValueError(f"auth: key manager {name!r} is not declared in key_managers (declared: {known})")
        accepted = {name: kms.by_name[name] for name in names}
        self._accepted = frozenset(accepted)
        self._by_issuer = {iss: km for iss, km in kms.by_issuer.items() if km.name in accepted}
        introspectors = [km for km in accepted.values() if isinstance(km, IntrospectionKeyManager)]
        if config.opaque_order:
            for name in config.opaque_order:
                if not isinstance(accepted.get(name), IntrospectionKeyManager):
                    raise ValueError(f"auth: opaque_order names {name!r}, not an accepted introspection key manager")
            self._opaque: tuple[KeyManager, ...] = tuple(accepted[name] for name in config.opaque_order)
        elif len(introspectors) > 1:
            raise ValueError("auth: several introspection key managers are accepted; set opaque_order to rank them")
        else:
            self._opaque = tuple(introspectors)
        apikeys = [km for km in accepted.values() if isinstance(km, ApiKeyManager)]
        if len(apikeys) > 1:
            raise ValueError("auth: at most one apikey key manager per API")
        self._apikey = apikeys[0] if apikeys else None
        self._apikey_header: bytes | None = self._apikey.header if self._apikey else None
        self._apikey_query: bytes | None = self._apikey.query if self._apikey else None
        self._audiences = _audiences(config, accepted.values(), deps.api.config.prefix)
        self._km_tenant = {km.name: km.tenant for km in accepted.values()}
        self._km_kind = {km.name: km.kind for km in accepted.values()}
        self._max = config.max_token_bytes
        self._enforce = config.enforce

        prefix = deps.api.config.prefix
        self._apps = kms.applications
        self._subscribed = frozenset(
            s.application for s in deps.gateway.subscriptions if s.api == prefix and s.status == "active"
        )
        self._sub_blocked = frozenset(
            s.application for s in deps.gateway.subscriptions if s.api == prefix and s.status == "blocked"
        )
        self._subscription_required = config.subscription_required
        self._blocked_users = (
            frozenset(u.username for u in kms.resident.config.users if u.blocked) if kms.resident else frozenset()
        )
        self._resident_name = kms.resident.name if kms.resident else None

        templates = {resource.path for resource in deps.api.config.resources}
        self._scopes: dict[tuple[str, str], frozenset[str]] = {}
        for key, needed in config.scopes.items():
            resource = ResourceConfig.model_validate(key)
            if resource.path not in templates:
                raise ValueError(f"auth: scopes key {key!r} names no resource of {prefix}")
            for method in resource.methods:
                self._scopes[(method, resource.path)] = frozenset(needed)
                if method == "GET":
                    self._scopes.setdefault(("HEAD", resource.path), frozenset(needed))

        self._identity = [
            (name.lower().encode("latin-1"), _FIELDS[field]) for name, field in config.identity_headers.items()
        ]
        strip = {name for name, _ in self._identity}
        self._backend_jwt = config.backend_jwt if config.backend_jwt.enabled else None
        if self._backend_jwt is not None:
            if kms.resident is None:
                raise ValueError("auth: backend_jwt needs a resident key manager to sign with")
            self._jwt_header = self._backend_jwt.header.lower().encode("latin-1")
            strip.add(self._jwt_header)
        self._resident = kms.resident
        self._forward = config.forward_credentials
        if not config.forward_credentials:
            strip.add(b"authorization")
            if self._apikey_header:
                strip.add(self._apikey_header)
        self._strip = frozenset(strip)
        self._identity_names = frozenset(strip - {b"authorization", self._apikey_header})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx: RequestContext = scope["gateway"]
        authorization = apikey = None
        apikey_header = self._apikey_header
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == apikey_header:
                apikey = value
        from_query = False
        try:
            raw: bytes
            if authorization is not None and authorization[:7].lower() == b"bearer ":
                raw, kind = authorization[7:].strip(), b"b"
            elif apikey is not None:
                raw, kind = apikey, b"k"
            elif self._apikey_query is not None and (found := self._query_key(scope)) is not None:
                raw, kind, from_query = found.encode("latin-1", "replace"), b"k", True
            elif authorization is not None:  # RFC 6750 3.1: another scheme gets a bare challenge
                raise MissingCredentials("the Authorization scheme is not Bearer")
            else:
                raise MissingCredentials("no access token or API key was sent")
            if not raw:
                raise MissingCredentials("the access token is empty")
            if len(raw) > self._max:
                raise InvalidToken(f"the token is longer than {self._max} bytes")
            now = time.time()
            key = token_key(raw, kind)  # the raw bytes: a cache hit decodes nothing
            principal = self._cache.get(key, now)
            if principal is None:
                token = raw.decode("latin-1")
                principal = await (self._authenticate(token) if kind == b"b" else self._api_key(token))
                self._cache.put(key, principal)
            if principal.key_manager not in self._accepted:
                raise InvalidToken("the token's key manager is not accepted by this API")
            app = self._authorize(principal, ctx, scope["method"])
        except AuthFailure as failure:
            if self._enforce:
                return await send_failure(send, failure, ctx.request_id)
            log.warning("auth (shadow): %s %s: %s", scope["method"], scope["path"], failure.description)
            spoofable = self._identity_names
            scope["headers"] = [(name, value) for name, value in scope["headers"] if name not in spoofable]
            return await self.app(scope, receive, send)
        ctx.principal = principal
        ctx.application = app
        ctx.tenant = principal.tenant
        self._rewrite(scope, ctx, principal, now, from_query)
        await self.app(scope, receive, send)

    def _query_key(self, scope: Scope) -> str | None:
        query: bytes = scope.get("query_string", b"")
        wanted = self._apikey_query
        if not query or wanted is None or wanted not in query:
            return None
        name = wanted.decode("latin-1")
        for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if key == name:
                return value
        return None

    async def _authenticate(self, token: str) -> Principal:
        self._registry.start()
        if "." in token:  # a JWT (or a broken one): routed by its issuer
            iss = parse(token, self._max).claims.get("iss")
            km = self._by_issuer.get(iss) if isinstance(iss, str) else None
            if km is None:
                raise InvalidToken("the token issuer is not accepted by this API")
            return await km.authenticate(token)
        if not self._opaque:
            raise InvalidToken("the token is not a JWT and this API accepts no opaque tokens")
        failure: AuthFailure = TokenInactive("the token is not active")
        unavailable: KeyManagerUnavailable | None = None
        for km in self._opaque:  # the documented order (opaque_order); the first active answer wins
            try:
                return await km.authenticate(token)
            except KeyManagerUnavailable as exc:
                unavailable = exc
            except AuthFailure as exc:
                failure = exc
        raise unavailable or failure

    async def _api_key(self, token: str) -> Principal:
        if self._apikey is None:
            raise InvalidToken("this API accepts no API keys")
        return await self._apikey.authenticate(token)

    def _authorize(self, principal: Principal, ctx: RequestContext, method: str) -> Any:
        app_id = principal.application
        app = self._apps.get(app_id) if app_id else None
        if app is not None:
            if app.blocked:
                raise Blocked(f"the application {app_id} is blocked")
            kind = self._km_kind[principal.key_manager]
            if kind != "apikey" and principal.key_manager not in app.key_managers:
                raise Forbidden(f"the application {app_id} is not registered with key manager {principal.key_manager}")
            tenant = self._km_tenant[principal.key_manager]
            if tenant is not None and app.tenant != tenant:
                raise Forbidden(f"key manager {principal.key_manager} may not speak for tenant {app.tenant}")
        if principal.username is not None and principal.key_manager == self._resident_name:
            if principal.username in self._blocked_users:
                raise Blocked(f"the user {principal.username} is blocked")
        if self._subscription_required:
            if app is None:
                raise NotSubscribed(f"the application {app_id or '(none)'} is not registered")
            if app_id in self._sub_blocked:
                raise SubscriptionBlocked(f"the subscription of {app_id} to {ctx.api.prefix} is blocked")
            if app_id not in self._subscribed:
                raise NotSubscribed(f"the application {app_id} is not subscribed to {ctx.api.prefix}")
        # after the subscription, so an unsubscribed application hears that, not "wrong audience"
        audience = self._audiences.get(principal.key_manager)
        if audience is not None and not audience_matches(principal.claims.get("aud"), audience):
            raise InvalidToken("the token is not meant for this API (aud)")
        if self._scopes and ctx.resource is not None:  # None: an OPTIONS the proxy will answer 405
            template = ctx.resource.template
            needed = self._scopes.get((method, template)) or self._scopes.get(("ANY", template))
            if needed and not needed <= principal.scopes:
                missing = " ".join(sorted(needed - principal.scopes))
                raise ScopeNotAllowed(f"the token lacks the scope(s) {missing} for {method} {template}", needed)
        return app

    def _rewrite(self, scope: Scope, ctx: RequestContext, principal: Principal, now: float, from_query: bool) -> None:
        strip = self._strip
        headers = [(name, value) for name, value in scope["headers"] if name not in strip]
        for name, value_of in self._identity:
            value = value_of(principal)
            if value:
                headers.append((name, value.encode("utf-8")))
        if self._backend_jwt is not None:
            headers.append((self._jwt_header, self._assertion(principal, now)))
        scope["headers"] = headers
        if from_query and not self._forward:
            path, _, query = ctx.upstream_path.partition(b"?")
            # drop the key's pairs, byte for byte; the rest of the query keeps its original encoding
            kept = [part for part in query.split(b"&") if part.split(b"=", 1)[0] != self._apikey_query]
            ctx.upstream_path = path + (b"?" + b"&".join(kept) if kept else b"")

    def _assertion(self, principal: Principal, now: float) -> bytes:
        cached = principal.assertion
        if cached is not None and cached[0] - 5 > now:
            return cached[1]
        if self._resident is None or self._backend_jwt is None:  # __init__ picks this path only with both
            raise RuntimeError("backend JWT asked for without a resident key manager")
        exp = min(now + self._backend_jwt.ttl, principal.expires_at)
        key = self._resident.ring.active
        claims = {
            "iss": self._resident.issuer,
            "sub": principal.subject,
            "application": principal.application,
            "tenant": principal.tenant,
            "scope": " ".join(sorted(principal.scopes)),
            "key_manager": principal.key_manager,
            "token_issuer": principal.issuer,
            "iat": int(now),
            "exp": int(exp),
            "jti": secrets.token_urlsafe(12),
        }
        if principal.username:
            claims["username"] = principal.username
        value = jwt.encode(claims, key.private, algorithm=key.alg, headers={"kid": key.kid, "typ": "JWT"}).encode()
        principal.assertion = (exp, value)
        return value
