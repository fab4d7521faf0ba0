"""Dashboard counters: national for a super admin, the own tenant's subtree for everyone else allowed
(tenant admins and auditors)."""

from __future__ import annotations

from gateway.catalog.api_models import DashboardStats
from gateway.catalog.dashboard import dashboard_stats
from gateway.control.access import READERS
from gateway.control.endpoints import Call, Endpoint


async def get_stats(call: Call) -> DashboardStats:
    principal = call.principal
    if principal.scope is None:
        return await dashboard_stats(call.store, None)
    tenant = await call.store.tenants.get(principal.tenant_id)
    return await dashboard_stats(call.store, principal.scoped_ids(), tenant.slug)


ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/dashboard/stats",
        get_stats,
        "Counters: APIs per state, users, active visitors, tenants, APIs per institution (national or my subtree)",
        "dashboard",
        roles=READERS,
        response=DashboardStats,
    ),
)
