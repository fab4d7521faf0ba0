"""The immutable view every request reads: routes, compiled chains, endpoint pools.

A config change builds a whole new Snapshot and swaps one reference (SnapshotHolder.current);
requests already in flight finish on the snapshot they started with.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gateway.chain import PolicyBuildError, build_chain
from gateway.config.errors import ConfigError, ConfigProblem
from gateway.config.model import ApiDefinition, LoadedConfig, UpstreamDefaults
from gateway.proxy import BodyPace, ProxyApp, timeouts_from_config
from gateway.router import PrefixRouter, ResourceMatcher
from gateway.types import ASGIApp, PolicyDeps, WorkerResources
from gateway.upstream.aio import AioClient
from gateway.upstream.base import UpstreamClient
from gateway.upstream.lean import LeanClient
from gateway.upstream.pool import EndpointPool, HealthRegistry, endpoint_from_config


class Upstreams:
    """Per-worker shared state that outlives snapshots: client connection pools and endpoint health."""

    def __init__(self, defaults: UpstreamDefaults) -> None:
        pool = defaults.pool
        limit, per_host, keepalive = pool.limit, pool.limit_per_host, pool.keepalive_timeout
        # Both exist (connections open lazily): https endpoints always need aiohttp, and a reload may switch.
        self.clients: dict[str, UpstreamClient] = {
            "aiohttp": AioClient(limit=limit, limit_per_host=per_host, keepalive_timeout=keepalive),
            "lean": LeanClient(limit=limit, limit_per_host=per_host, keepalive_timeout=keepalive),
        }
        self.health = HealthRegistry()

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()


@dataclass(frozen=True, slots=True)
class ApiRuntime:
    definition: ApiDefinition
    prefix: str
    resources: ResourceMatcher
    app: ASGIApp


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    config: LoadedConfig
    router: PrefixRouter[ApiRuntime]
    apis: tuple[ApiRuntime, ...]
    built_at: float


def build_api(api: ApiDefinition, config: LoadedConfig, upstreams: Upstreams, services: WorkerResources) -> ApiRuntime:
    defaults = config.gateway.upstream
    backend = api.config.backend
    endpoints = [endpoint_from_config(e) for e in backend.endpoints]
    pool = EndpointPool(endpoints, backend.health or defaults.health, upstreams.health)
    timeouts = timeouts_from_config(defaults.timeouts)
    proxy = ProxyApp(api, pool, upstreams.clients, defaults.client, timeouts, defaults.retries, body_pace(api, config))
    try:
        app = build_chain(proxy, api.policies, PolicyDeps(api=api, gateway=config.gateway, services=services))
    except PolicyBuildError as exc:
        path = f"{api.where}.policies.{exc.policy}" if api.where else f"policies.{exc.policy}"
        raise ConfigError([ConfigProblem(api.source, path, str(exc))]) from None
    return ApiRuntime(
        definition=api, prefix=api.config.prefix, resources=ResourceMatcher(api.config.resources), app=app
    )


def body_pace(api: ApiDefinition, config: LoadedConfig) -> BodyPace:
    """gateway.limits' body limits, with the API's own deadline and rate where it sets them."""
    limits = config.gateway.gateway.limits
    own = api.config
    return BodyPace(
        idle=limits.body_timeout,
        deadline=limits.body_deadline if own.body_deadline is None else own.body_deadline,
        min_rate=limits.body_min_rate if own.body_min_rate is None else own.body_min_rate,
    )


def build_snapshot(config: LoadedConfig, upstreams: Upstreams, services: WorkerResources, version: int) -> Snapshot:
    """Raises if any API's chain cannot be built; the caller then keeps the old snapshot."""
    group = config.gateway.gateway.group
    built: list[ApiRuntime] = []
    problems: list[ConfigProblem] = []
    for api in config.apis:
        if group not in api.config.groups:
            continue
        try:
            built.append(build_api(api, config, upstreams, services))
        except ConfigError as exc:  # every API's problem in one report, not the first one only
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    apis = tuple(built)
    return Snapshot(
        version=version,
        config=config,
        router=PrefixRouter({api.prefix: api for api in apis}),
        apis=apis,
        built_at=time.time(),
    )


class SnapshotHolder:
    __slots__ = ("current",)

    def __init__(self, snapshot: Snapshot) -> None:
        self.current = snapshot

    def swap(self, snapshot: Snapshot) -> None:
        self.current = snapshot  # one reference assignment: atomic for every coroutine on this loop
