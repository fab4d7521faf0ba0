"""Every control-API endpoint, grouped by resource; `ENDPOINTS` is the one list app.py serves and
openapi.py documents."""

from __future__ import annotations

from gateway.control.endpoints import Endpoint
from gateway.control.routes import (
    account,
    analytics,
    apis,
    applications,
    approvals,
    audit,
    auth,
    catalog,
    certificates,
    cluster,
    dashboard,
    documents,
    etl,
    institutions,
    interchange,
    subscriptions,
    system,
    tenants,
    tiers,
    users,
)

ENDPOINTS: tuple[Endpoint, ...] = (
    *system.ENDPOINTS,
    *auth.ENDPOINTS,
    *account.ENDPOINTS,
    *institutions.ENDPOINTS,
    *users.ENDPOINTS,
    *tenants.ENDPOINTS,
    *audit.ENDPOINTS,
    *interchange.ENDPOINTS,  # before apis: POST /apis/import is not an {id}
    *apis.ENDPOINTS,
    *documents.ENDPOINTS,
    *catalog.ENDPOINTS,
    *applications.ENDPOINTS,
    *certificates.ENDPOINTS,
    *subscriptions.ENDPOINTS,
    *approvals.ENDPOINTS,
    *dashboard.ENDPOINTS,
    *analytics.ENDPOINTS,
    *etl.ENDPOINTS,
    *tiers.ENDPOINTS,
    *cluster.ENDPOINTS,
)
