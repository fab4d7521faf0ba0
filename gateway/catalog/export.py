"""The catalog as the gateway sees it: served APIs as `gateway.config.model.ApiConfig` objects, the
consumers (applications with their credential hashes, subscriptions) as `gateway.config.consumers`
objects, and the throttling tiers.

The catalog feed (gateway/feed/) reads these after each committed change and hands them to the
snapshot builder, exactly as conf/ files would be.
"""

from __future__ import annotations

from gateway.catalog.apis import to_config
from gateway.catalog.consumer_models import ConsumerStatus
from gateway.catalog.store import CatalogStore
from gateway.catalog.util import json_column, now
from gateway.config.consumers import ApplicationConfig, SubscriptionConfig
from gateway.config.model import ApiConfig
from gateway.config.tiers import Tier, TierOverride, TiersConfig, with_overrides

_EXPORTED = (ConsumerStatus.ACTIVE.value, ConsumerStatus.BLOCKED.value)


async def published_api_configs(store: CatalogStore, group: str | None = None) -> list[ApiConfig]:
    """PUBLISHED and DEPRECATED APIs (BLOCKED, CREATED and RETIRED ones are not served), ordered by
    context then version; with `group`, only the APIs deployed to that gateway group."""
    return [config for _, config in await served_apis(store) if group is None or group in config.groups]


async def served_apis(store: CatalogStore) -> list[tuple[str, ApiConfig]]:
    """(catalog id, definition) of every served API, from one read."""
    return [(api.id, to_config(api)) for api in await store.apis.served()]


async def consumer_configs(store: CatalogStore) -> tuple[list[ApplicationConfig], list[SubscriptionConfig]]:
    """ACTIVE and BLOCKED applications (blocked=True for the latter) with their client secret hash and
    their usable API keys (not revoked, not expired), and the ACTIVE and BLOCKED subscriptions of those
    applications with `api` = the API's prefix. Pending and rejected ones are left out: gateways never
    hear of them. Ordered by id, so two exports of the same catalog compare equal."""
    async with store.db.read() as conn:
        apps = await conn.fetch(
            "SELECT p.*, t.slug AS tenant_slug, u.username AS owner_name FROM applications p"
            " JOIN tenants t ON t.id = p.tenant_id LEFT JOIN users u ON u.id = p.owner_id"
            " WHERE p.status IN ($1, $2) ORDER BY p.id",
            *_EXPORTED,
        )
        keys = await conn.fetch(
            "SELECT k.application_id, k.key_hash FROM application_keys k"
            " JOIN applications p ON p.id = k.application_id"
            " WHERE p.status IN ($1, $2) AND k.revoked = $3 AND (k.expires_at IS NULL OR k.expires_at > $4)"
            " ORDER BY k.created_at, k.id",
            *_EXPORTED,
            False,
            now(),
        )
        subs = await conn.fetch(
            "SELECT s.application_id, s.tier, s.status, a.context, a.version FROM subscriptions s"
            " JOIN applications p ON p.id = s.application_id JOIN apis a ON a.id = s.api_id"
            " WHERE p.status IN ($1, $2) AND s.status IN ($1, $2) ORDER BY s.application_id, a.context, a.version",
            *_EXPORTED,
        )
    hashes: dict[str, list[str]] = {}
    for key in keys:
        hashes.setdefault(key["application_id"], []).append(key["key_hash"])
    applications = [
        ApplicationConfig(
            id=row["id"],
            name=row["name"],
            tenant=row["tenant_slug"],
            owner=row["owner_name"] or row["owner_id"] or "",
            tier=row["tier"],
            blocked=row["status"] == ConsumerStatus.BLOCKED.value,
            client_secret_hash=row["client_secret_hash"],
            grant_types=tuple(json_column(row["grant_types"])),
            scopes=tuple(json_column(row["scopes"])),
            key_managers=tuple(json_column(row["key_managers"])),
            api_keys=tuple(hashes.get(row["id"], ())),
        )
        for row in apps
    ]
    subscriptions = [
        SubscriptionConfig(
            application=row["application_id"],
            api=f"{row['context']}/{row['version']}",
            tier=row["tier"],
            status="blocked" if row["status"] == ConsumerStatus.BLOCKED.value else "active",
        )
        for row in subs
    ]
    return applications, subscriptions


async def tier_overrides(store: CatalogStore) -> list[TierOverride]:
    """The tiers set through the control API, as (kind, name, tier), by kind then name."""
    return [
        (
            record.kind.value,
            record.name,
            Tier(requests=record.requests, burst=record.burst, description=record.description),
        )
        for record in await store.tiers.list()
    ]


async def catalog_tiers(store: CatalogStore, conf: TiersConfig | None = None) -> TiersConfig | None:
    """The throttling tiers the gateway should use, or None when the store holds none (conf/ tiers apply).

    Otherwise the store's tiers are merged over `conf` (the gateway's conf/ tiers; the built-in defaults
    when not given): a tier of the same kind and name is replaced, new ones are added, others kept.
    """
    overrides = await tier_overrides(store)
    if not overrides:
        return None
    return with_overrides(conf if conf is not None else TiersConfig(), overrides)
