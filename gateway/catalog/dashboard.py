"""The counters the operators' dashboard shows (the slides' figures): APIs per lifecycle state, users,
tenants, applications, subscriptions, and APIs per institution, for the whole country or for one tenant's subtree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.catalog.api_models import ApiStatus, DashboardStats, InstitutionCount
from gateway.catalog.store import CatalogStore
from gateway.catalog.util import placeholders, stamp

ACTIVE_WINDOW = timedelta(minutes=15)  # "Active Visitor": users seen on the control API this recently


async def dashboard_stats(store: CatalogStore, tenant_ids: list[str] | None, label: str = "national") -> DashboardStats:
    """Counts over `tenant_ids` (None: every tenant)."""
    active_since = stamp(datetime.now(UTC) - ACTIVE_WINDOW)
    if tenant_ids is not None and not tenant_ids:
        tenant_ids = ["-"]  # matches nothing
    args: list[Any] = list(tenant_ids or [])
    marks = placeholders(1, len(args))
    on_apis = f" WHERE a.tenant_id IN ({marks})" if tenant_ids is not None else ""
    on_tenant_id = f" WHERE tenant_id IN ({marks})" if tenant_ids is not None else ""
    on_tenants = f" WHERE id IN ({marks})" if tenant_ids is not None else ""
    async with store.db.read() as conn:
        rows = await conn.fetch(f"SELECT a.status, count(*) AS n FROM apis a{on_apis} GROUP BY a.status", *args)
        users = int(await conn.fetchval(f"SELECT count(*) FROM users{on_tenant_id}", *args))
        seen = f"{on_tenant_id} AND" if tenant_ids is not None else " WHERE"
        active = int(
            await conn.fetchval(
                f"SELECT count(*) FROM users{seen} last_seen_at >= ${len(args) + 1}", *args, active_since
            )
        )
        tenants = int(await conn.fetchval(f"SELECT count(*) FROM tenants{on_tenants}", *args))
        applications = int(await conn.fetchval(f"SELECT count(*) FROM applications{on_tenant_id}", *args))
        subscriptions = int(
            await conn.fetchval(
                "SELECT count(*) FROM subscriptions s JOIN applications p ON p.id = s.application_id"
                + (f" WHERE p.tenant_id IN ({marks})" if tenant_ids is not None else ""),
                *args,
            )
        )
        per_tenant = await conn.fetch(
            "SELECT t.id, t.slug, t.name, count(*) AS total,"
            " sum(CASE WHEN a.status = 'PUBLISHED' THEN 1 ELSE 0 END) AS published"
            f" FROM apis a JOIN tenants t ON t.id = a.tenant_id{on_apis}"
            " GROUP BY t.id, t.slug, t.name ORDER BY published DESC, total DESC, t.slug",
            *args,
        )
    by_status = {ApiStatus(row["status"]): int(row["n"]) for row in rows}
    return DashboardStats(
        scope=label,
        apis_published=by_status.get(ApiStatus.PUBLISHED, 0),
        apis_created=by_status.get(ApiStatus.CREATED, 0),
        apis_deprecated=by_status.get(ApiStatus.DEPRECATED, 0),
        apis_retired=by_status.get(ApiStatus.RETIRED, 0),
        apis_blocked=by_status.get(ApiStatus.BLOCKED, 0),
        total_apis=sum(by_status.values()),
        total_users=users,
        active_visitors=active,
        total_tenants=tenants,
        total_applications=applications,
        total_subscriptions=subscriptions,
        apis_per_institution=[
            InstitutionCount(
                tenant_id=row["id"],
                tenant=row["slug"],
                name=row["name"],
                published=int(row["published"]),
                total=int(row["total"]),
            )
            for row in per_tenant
        ],
    )
