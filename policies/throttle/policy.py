"""Multi-level throttling (phase: throttle, PRIORITY 1000). Never buffers.

Per request: blocking conditions (403, 900805), the backend's in-flight cap (per worker), then ONE call to
the counter storage that checks levels 1-5 and the bandwidth quota together and counts the request only if
every level allows it (a refusal at one level consumes nothing anywhere). The strictest level decides:
429 with Retry-After and problem+json naming level and policy with WSO2's code. Allowed responses carry
RateLimit-Policy / RateLimit (draft-ietf-httpapi-ratelimit-headers) and X-RateLimit-* of the limit with
the least remaining; the policy hands them to the proxy through RequestContext.response_headers (no
per-request `send` wrapper), so a response answered by a policy further in does not carry them.
Counter keys are memoised per caller (levels.memo_hits): a request formats no key string.

Storage failure (Redis unreachable) is fail-open by default, through a local per-node share of each limit
(on_error: local); per level `open` skips the limit, `closed` answers 503. Never a 500.
Shadow mode (enforce: false) computes and logs verdicts but lets every request through.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel

from gateway import errors
from gateway.config.errors import ConfigError, ConfigProblem
from gateway.config.merge import overlay
from gateway.types import ASGIApp, Message, PolicyDeps, Receive, Scope, Send
from policies.throttle import errors as problems
from policies.throttle.levels import (
    Caller,
    Rule,
    compile_networks,
    compile_rule,
    header_of,
    in_networks,
    limits_of,
    memo_hits,
    tier_limits,
    who,
)
from policies.throttle.schema import ThrottleConfig
from policies.throttle.storage import CounterStore
from policies.throttle.storage.base import ADD, CHECK, HIT, Hit, Hits, Limit, StoreUnavailable

log = logging.getLogger("splp.throttle")


def _gateway_throttle(deps: PolicyDeps) -> ThrottleConfig | None:
    for entry in deps.gateway.policies:
        if "throttle" in entry:
            return ThrottleConfig.model_validate(entry["throttle"] or {})
    return None


def _name_of(value: Any, *attributes: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for attribute in attributes:
            if value.get(attribute):
                return str(value[attribute])
        return None
    for attribute in attributes:
        found = getattr(value, attribute, None)
        if found:
            return str(found)
    return None


def _next_access(epoch: float) -> str:
    """WSO2's nextAccessTime format, e.g. 2024-Jun-27 06:24:00+0000 UTC."""
    return time.strftime("%Y-%b-%d %H:%M:%S+0000 UTC", time.gmtime(epoch))


class ThrottlePolicy:
    NAME = "throttle"
    PRIORITY = 1000
    Config: type[BaseModel] = ThrottleConfig

    def __init__(self, app: ASGIApp, config: ThrottleConfig, *, deps: PolicyDeps) -> None:
        self.app = app
        gateway = deps.gateway
        api = deps.api.config
        # Level 5 and 6 are gateway-wide: an API with its own throttle entry still gets the global ones.
        outer = _gateway_throttle(deps)
        if outer is not None and outer != config:
            merged = overlay(outer.global_, config.global_)
            config = config.model_copy(update={"global_": merged, "block": config.block or outer.block})
        # config-derived
        self._enforce = config.enforce
        self._headers = config.headers
        self._prefix = prefix = config.key_prefix
        self._api = api.prefix
        nodes = config.cluster_nodes
        strategy = config.strategy
        on_error = config.on_error
        wanted: set[bytes] = set()
        self._app_header = config.application_header.lower().encode() if config.application_header else None
        self._user_header = config.user_header.lower().encode() if config.user_header else None
        wanted.update(h for h in (self._app_header, self._user_header) if h)

        self._applications = {a.id: a for a in gateway.applications}
        subs = [s for s in gateway.subscriptions if s.api == api.prefix]
        self._sub_tier = {s.application: s.tier for s in subs}
        problems_found: list[ConfigProblem] = []
        where = f"{deps.api.source}: apis[{api.prefix}].policies.throttle"

        self._sub_limits: dict[str, tuple[Limit, ...]] | None = None
        self._sub_default = ""
        if config.subscription and config.subscription.enabled:
            level = config.subscription
            self._sub_limits = tier_limits(
                "subscription", gateway.tiers.subscription, strategy, level.on_error or on_error, nodes
            )
            self._sub_default = level.default_tier
            for path, tier in [("subscription.default_tier", level.default_tier)] + [
                (f"subscriptions[{s.application}].tier", s.tier) for s in subs
            ]:
                if tier not in self._sub_limits:
                    known = ", ".join(sorted(self._sub_limits))
                    problems_found.append(
                        ConfigProblem(where, path, f"{tier!r} is not a subscription tier; expected one of: {known}")
                    )
        self._app_limits: dict[str, tuple[Limit, ...]] | None = None
        self._app_default = ""
        self._per_user = False
        if config.application and config.application.enabled:
            level = config.application
            self._app_limits = tier_limits(
                "application", gateway.tiers.application, strategy, level.on_error or on_error, nodes
            )
            self._app_default = level.default_tier
            self._per_user = level.per_user
            for path, tier in [("application.default_tier", level.default_tier)] + [
                (f"applications[{a.id}].tier", a.tier) for a in gateway.applications
            ]:
                if tier not in self._app_limits:
                    known = ", ".join(sorted(self._app_limits))
                    problems_found.append(
                        ConfigProblem(where, path, f"{tier!r} is not an application tier; expected one of: {known}")
                    )
        if problems_found:
            raise ConfigError(problems_found)

        self._rules: tuple[Rule, ...] = tuple(
            compile_rule(p, "api", f"{prefix}:api:{api.prefix}:{p.name}:", strategy, on_error, nodes)
            for p in config.api
        ) + tuple(
            compile_rule(p, "global", f"{prefix}:global:{p.name}:", strategy, on_error, nodes) for p in config.global_
        )
        policies = list(config.api) + list(config.global_)
        wanted.update(h for h in (header_of(p.per) for p in policies) if h)
        for p in policies:
            if p.when is not None:
                wanted.update(k.lower().encode() for k in p.when.header)
        self._needs_query = any(p.when is not None and p.when.query for p in policies)

        self._backend: tuple[Limit, ...] = ()
        self._max_in_flight = 0
        if config.backend is not None:
            backend = config.backend
            if backend.limit:
                self._backend = limits_of(
                    "backend", "backend", backend.limit, strategy, backend.on_error or on_error, nodes
                )
            self._max_in_flight = backend.max_in_flight or 0
        self._bandwidth: Limit | None = None
        self._bandwidth_who = who("application")
        if config.bandwidth is not None:
            bw = config.bandwidth
            self._bandwidth = limits_of(
                "bandwidth", "bandwidth", (bw.limit,), "fixed-window", bw.on_error or on_error, nodes
            )[0]
            self._bandwidth_who = who(bw.per)
            if h := header_of(bw.per):
                wanted.add(h)

        block = config.block
        self._blocked_api = bool(block and api.prefix in block.apis)
        self._blocked_apps = frozenset(block.applications if block else ()) | {
            a.id for a in gateway.applications if a.blocked
        }
        self._blocked_apps |= {s.application for s in subs if s.status == "blocked"}
        self._blocked_users = frozenset(block.users if block else ())
        self._blocked_tenants = frozenset(block.tenants if block else ())
        self._blocked_ips = compile_networks(block.ips) if block else ()
        self._may_block = bool(
            self._blocked_api or self._blocked_apps or self._blocked_users or self._blocked_tenants or self._blocked_ips
        )
        self._wanted = frozenset(wanted)
        self._backend_hits: tuple[Hit, ...] = tuple(
            (f"{prefix}:backend:{api.prefix}:{limit.window}", limit, 1, HIT) for limit in self._backend
        )
        # memo of counter keys per caller (bounded, see levels.memo_hits): shared by this policy's requests
        self._sub_memo: dict[str, tuple[Hit, ...]] = {}
        self._app_memo: dict[str, tuple[Hit, ...]] = {}
        self._local = {limit: replace(limit, amount=limit.local_amount) for limit in self._all_limits()}
        # shared
        self._store: CounterStore = deps.services.get(
            f"throttle:{gateway.storage.counters}", lambda: CounterStore(gateway.storage.counters)
        )
        self._in_flight: dict[str, int] = deps.services.get("throttle:in-flight", dict)
        self._tasks: set[asyncio.Task[Any]] = deps.services.get("throttle:tasks", set)
        # per-request: none on self

    def _all_limits(self) -> list[Limit]:
        out = [lim for tier in (self._sub_limits or {}).values() for lim in tier]
        out += [lim for tier in (self._app_limits or {}).values() for lim in tier]
        out += [lim for rule in self._rules for lim in rule.limits] + list(self._backend)
        if self._bandwidth is not None:
            out.append(self._bandwidth)
        return out

    def _caller(self, scope: Scope, ctx: Any) -> Caller:
        headers: dict[bytes, bytes] = {}
        if self._wanted:
            wanted = self._wanted
            for name, value in scope["headers"]:
                if name in wanted:
                    headers[name] = value
        ip = ctx.client_ip
        app = None if ctx.application is None else _name_of(ctx.application, "id", "client_id", "application_id")
        if app is None and self._app_header is not None and self._app_header in headers:
            app = headers[self._app_header].decode("latin-1")
        principal = ctx.principal
        user = None if principal is None else _name_of(principal, "subject", "sub", "username", "user")
        if user is None and self._user_header is not None and self._user_header in headers:
            user = headers[self._user_header].decode("latin-1")
        tenant = ctx.tenant
        if tenant is None and app is not None:
            known = self._applications.get(app)
            tenant = known.tenant if known is not None else None
        claims = getattr(principal, "claims", principal)
        caller = Caller(ip, app or f"ip:{ip}", user or f"ip:{ip}", tenant or "-", headers, claims)
        if self._needs_query:
            caller.query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        return caller

    def _blocked(self, caller: Caller, has_app: bool) -> str | None:
        if self._blocked_api:
            return f"API {self._api} is blocked"
        if has_app and caller.app in self._blocked_apps:
            return f"application {caller.app} is blocked"
        if self._blocked_users and caller.user in self._blocked_users:
            return f"user {caller.user} is blocked"
        if self._blocked_tenants and caller.tenant in self._blocked_tenants:
            return f"tenant {caller.tenant} is blocked"
        if self._blocked_ips and in_networks(caller, self._blocked_ips):
            return f"client address {caller.ip} is blocked"
        return None

    def _hits(self, scope: Scope, ctx: Any, caller: Caller) -> tuple[Hit, ...]:
        """The request's hits in level order (the order decides which refusal is reported); keys memoised."""
        hits: tuple[Hit, ...] = ()
        app = caller.app
        if self._sub_limits is not None:
            found = self._sub_memo.get(app)
            if found is None:
                tier = self._sub_limits[self._sub_tier.get(app, self._sub_default)]
                found = memo_hits(self._sub_memo, app, f"{self._prefix}:sub:{self._api}:{app}", tier)
            hits = found
        if self._app_limits is not None:
            owner = f"{app}:{caller.user}" if self._per_user else app
            found = self._app_memo.get(owner)
            if found is None:
                known = self._applications.get(app)
                tier = self._app_limits[known.tier if known is not None else self._app_default]
                found = memo_hits(self._app_memo, owner, f"{self._prefix}:app:{owner}", tier)
            hits += found
        if self._rules:
            resource = ctx.resource
            for rule in self._rules:
                if rule.template is not None:
                    if resource is None or resource.template != rule.template:
                        continue
                    if rule.methods is not None and scope["method"] not in rule.methods:
                        continue
                if rule.when is not None and not rule.when(caller):
                    continue
                hits += rule.hits_for(caller)
        hits += self._backend_hits
        if self._bandwidth is not None:
            limit = self._bandwidth
            key = f"{self._prefix}:bw:{self._api}:{self._bandwidth_who(caller)}:{limit.window}"
            hits += ((key, limit, 1, CHECK),)
        return hits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = scope["gateway"]
        caller = self._caller(scope, ctx)
        store = self._store
        stats = store.stats
        reason = self._blocked(caller, not caller.app.startswith("ip:")) if self._may_block else None
        if reason is not None:
            stats["blocked"] += 1
            if self._enforce:
                return await errors.send_problem(send, problems.BLOCKED, reason, ctx.request_id, level="block")
            log.info("throttle (shadow): would block: %s", reason)
        hits: Hits = self._hits(scope, ctx, caller)
        cap = self._max_in_flight
        if cap:
            in_flight = self._in_flight.get(self._api, 0)
            if in_flight >= cap:
                if self._enforce:
                    store.refused["backend", "max_in_flight"] += 1
                    return await self._refuse_concurrency(send, ctx, cap)
                store.shadowed["backend", "max_in_flight"] += 1
            self._in_flight[self._api] = in_flight + 1
        try:
            if hits:
                try:
                    result = await store.hit_all(hits)
                except StoreUnavailable:  # Redis only: memory counting cannot fail
                    if any(h[1].on_error == "closed" for h in hits):
                        stats["refused_store_closed"] += 1
                        if self._enforce:
                            return await errors.send_problem(
                                send,
                                problems.UNAVAILABLE,
                                "the shared throttling counters are unreachable and this limit fails closed",
                                ctx.request_id,
                                headers=[(b"retry-after", b"1")],
                            )
                    local = self._local
                    hits = [(k, local[lim], c, m) for k, lim, c, m in hits if lim.on_error == "local"]
                    result = store.local_hit_all(hits) if hits else [0, 0]
                refused = result[0]
                if refused:
                    limit = hits[refused - 1][1]
                    if self._enforce:
                        store.refused[limit.level, limit.name] += 1
                        return await self._refuse(send, ctx, hits, result)
                    store.shadowed[limit.level, limit.name] += 1
                    stats["shadow"] += 1
                    log.info("throttle (shadow): %s limit %s would refuse", limit.level, limit.name)
                elif self._headers:
                    _add_rate_headers(ctx, hits, result)
            if self._bandwidth is not None:
                return await self._metered(scope, receive, send, caller)
            await self.app(scope, receive, send)
        finally:
            if cap:
                self._in_flight[self._api] -= 1

    async def _refuse(self, send: Send, ctx: Any, hits: Hits, result: list[int]) -> None:
        index = result[0] - 1
        limit = hits[index][1]
        retry_ms = max(result[1], 1)
        retry = max(1, -(-retry_ms // 1000))
        headers = _rate_headers(limit, 0, retry_ms)
        headers.append((b"retry-after", str(retry).encode()))
        problem = problems.BY_LEVEL[limit.level]
        what = "bytes" if limit.level == "bandwidth" else "requests"
        await errors.send_problem(
            send,
            problem,
            f"{limit.level} limit {limit.name!r} of {limit.amount} {what} per {limit.window}s exceeded; "
            f"retry in {retry}s",
            ctx.request_id,
            headers=headers,
            level=limit.level,
            policy=limit.name,
            nextAccessTime=_next_access(time.time() + retry_ms / 1000),
        )

    async def _refuse_concurrency(self, send: Send, ctx: Any, cap: int) -> None:
        await errors.send_problem(
            send,
            problems.THROTTLED_BACKEND,
            f"backend of {self._api} already has {cap} requests in flight",
            ctx.request_id,
            headers=[(b"retry-after", b"1")],
            level="backend",
            policy="max_in_flight",
            nextAccessTime=_next_access(time.time() + 1),
        )

    async def _metered(self, scope: Scope, receive: Receive, send: Send, caller: Caller) -> None:
        """Counts request and response body bytes; adds them to the bandwidth quota after the response."""
        counted = [0]

        async def counting_receive() -> Message:
            message = await receive()
            counted[0] += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.body":
                counted[0] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            limit = self._bandwidth
            if counted[0] and limit is not None:
                key = f"{self._prefix}:bw:{self._api}:{self._bandwidth_who(caller)}:{limit.window}"
                task = asyncio.get_running_loop().create_task(self._add(key, limit, counted[0]))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _add(self, key: str, limit: Limit, amount: int) -> None:
        hit = [(key, limit, amount, ADD)]
        try:
            await self._store.hit_all(hit)
        except StoreUnavailable:
            if limit.on_error == "local":
                self._store.local_hit_all([(key, self._local[limit], amount, ADD)])


def _add_rate_headers(ctx: Any, hits: Hits, result: list[int]) -> None:
    """RateLimit-* of the limit with the least remaining, handed to the proxy through the request context."""
    best = 0
    for i in range(1, len(hits)):
        if result[2 + 2 * i] < result[2 + 2 * best]:
            best = i
    headers = _rate_headers(hits[best][1], result[2 + 2 * best], result[3 + 2 * best])
    if ctx.response_headers is None:
        ctx.response_headers = headers
    else:
        ctx.response_headers += headers


def _rate_headers(limit: Limit, remaining: int, reset_ms: int) -> list[tuple[bytes, bytes]]:
    reset = b"%d" % max(0, -(-reset_ms // 1000))
    policy, head, amount = limit.header_parts
    left = b"%d" % remaining
    return [
        policy,
        (b"ratelimit", b"%s%s;t=%s" % (head, left, reset)),
        amount,
        (b"x-ratelimit-remaining", left),
        (b"x-ratelimit-reset", reset),
    ]
