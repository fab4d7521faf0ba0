"""Compiles the levels of a ThrottleConfig into rules: which limits apply to a request, and under which key.

Everything here runs at snapshot build. Per request the policy only walks the rules, tests the conditions
and formats keys. Key layout (no amount in the key: changing 100/minute to 50/minute keeps the count; a
changed window starts a new counter):
    <prefix>:sub:<api>:<app>:<window>         level 1
    <prefix>:app:<app>[:<user>]:<window>      level 2
    <prefix>:api:<api>:<policy>:<who>:<window>   level 3
    <prefix>:backend:<api>:<window>           level 4
    <prefix>:global:<policy>:<who>:<window>   level 5
    <prefix>:bw:<api>:<who>:<window>          bandwidth
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.config.rates import Rate, parse_rate
from gateway.config.tiers import Tier
from policies.throttle.schema import ApiLimit, Condition
from policies.throttle.storage.base import HIT, STRATEGIES, Hit, Limit

IpNet = ipaddress.IPv4Network | ipaddress.IPv6Network
MEMO_SIZE = 4096  # distinct callers whose counter keys are kept per level; past it the memo starts over


def memo_hits(memo: dict[str, tuple[Hit, ...]], ident: str, head: str, limits: tuple[Limit, ...]) -> tuple[Hit, ...]:
    """The hits of `limits` for one caller, keys `<head>:<window>`, built once per caller and then reused.

    Keys are the per-request cost that does not change between a caller's requests: memoised, a request
    formats no key string and allocates no tuple. The memo is bounded (MEMO_SIZE) and simply cleared when full.
    """
    found = memo.get(ident)
    if found is None:
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        found = memo[ident] = tuple((f"{head}:{limit.window}", limit, 1, HIT) for limit in limits)
    return found


class Caller:
    """Who is calling, resolved once per request from the context (and headers when configured)."""

    __slots__ = ("ip", "app", "user", "tenant", "headers", "claims", "query", "_address")

    def __init__(self, ip: str, app: str, user: str, tenant: str, headers: dict[bytes, bytes], claims: Any) -> None:
        self.ip = ip
        self.app = app
        self.user = user
        self.tenant = tenant
        self.headers = headers
        self.claims = claims
        self.query: dict[str, str] | None = None
        self._address: Any = False

    @property
    def address(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        if self._address is False:
            try:
                self._address = ipaddress.ip_address(self.ip)
            except ValueError:
                self._address = None
        return self._address  # type: ignore[no-any-return]


def in_networks(caller: Caller, networks: tuple[IpNet, ...]) -> bool:
    address = caller.address
    return address is not None and any(address in net for net in networks)


def compile_networks(items: tuple[str, ...]) -> tuple[IpNet, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def who(per: str) -> Callable[[Caller], str]:
    """The part of the key that says who shares a counter."""
    if per == "api":
        return lambda c: "*"
    if per == "ip":
        return lambda c: c.ip
    if per == "application":
        return lambda c: c.app
    if per == "user":
        return lambda c: c.user
    if per == "tenant":
        return lambda c: c.tenant
    header = per.partition(":")[2].lower().encode()
    return lambda c: c.headers.get(header, b"-").decode("latin-1")


def header_of(per: str) -> bytes | None:
    return per.partition(":")[2].lower().encode() if per.startswith("header:") else None


def compile_condition(condition: Condition | None) -> Callable[[Caller], bool] | None:
    if condition is None:
        return None
    networks = compile_networks(condition.ip)
    headers = tuple((k.lower().encode(), v.encode()) for k, v in condition.header.items())
    query = tuple(condition.query.items())
    claims = tuple(condition.claim.items())
    invert = condition.invert

    def test(caller: Caller) -> bool:
        ok = True
        if networks and not in_networks(caller, networks):
            ok = False
        elif headers and any(caller.headers.get(k) != v for k, v in headers):
            ok = False
        elif query and any((caller.query or {}).get(k) != v for k, v in query):
            ok = False
        elif claims:
            source = caller.claims if isinstance(caller.claims, Mapping) else {}
            ok = all(str(source.get(k)) == v for k, v in claims if k in source) and all(k in source for k, _ in claims)
        return ok != invert

    return test


def limits_of(
    level: str, name: str, rates: tuple[Rate, ...], strategy: str, on_error: str, nodes: int
) -> tuple[Limit, ...]:
    code = STRATEGIES[strategy]
    return tuple(
        Limit(
            level=level,
            name=name,
            amount=rate.amount,
            window=rate.window,
            strategy=code,
            on_error=on_error,
            local_amount=max(1, math.ceil(rate.amount / nodes)),
        )
        for rate in rates
    )


def tier_limits(
    level: str, tiers: Mapping[str, Tier], strategy: str, on_error: str, nodes: int
) -> dict[str, tuple[Limit, ...]]:
    out = {}
    for name, tier in tiers.items():
        rates = tuple(parse_rate(r) for r in (tier.requests, tier.burst) if r is not None)
        out[name] = limits_of(level, name, rates, strategy, on_error, nodes)
    return out


@dataclass(frozen=True, slots=True)
class Rule:
    """One level-3 or level-5 policy compiled: when it applies and how its key is built."""

    level: str
    key_head: str  # "<prefix>:api:<api>:<name>:" or "<prefix>:global:<name>:"
    limits: tuple[Limit, ...]
    who: Callable[[Caller], str]
    when: Callable[[Caller], bool] | None
    methods: frozenset[str] | None  # resource rules: methods (None = any)
    template: str | None  # resource rules: the resource template
    memo: dict[str, tuple[Hit, ...]] = field(default_factory=dict, compare=False, repr=False)  # who -> hits

    def hits_for(self, caller: Caller) -> tuple[Hit, ...]:
        who = self.who(caller)
        found = self.memo.get(who)
        return found if found is not None else memo_hits(self.memo, who, self.key_head + who, self.limits)


def compile_rule(
    policy: ApiLimit, level: str, key_head: str, default_strategy: str, default_on_error: str, nodes: int
) -> Rule:
    methods = template = None
    if policy.resource is not None:
        method, _, template = policy.resource.partition(" ")
        listed = frozenset(method.split(","))
        methods = None if "ANY" in listed else listed
        level = "resource"
    return Rule(
        level=level,
        key_head=key_head,
        limits=limits_of(
            level,
            policy.name,
            policy.limit,
            policy.strategy or default_strategy,
            policy.on_error or default_on_error,
            nodes,
        ),
        who=who(policy.per),
        when=compile_condition(policy.when),
        methods=methods,
        template=template,
    )
