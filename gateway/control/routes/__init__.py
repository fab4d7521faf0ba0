"""Every control-API endpoint, grouped by resource; `ENDPOINTS` is the one list app.py serves and
openapi.py documents."""

from __future__ import annotations

from gateway.control.endpoints import Endpoint
from gateway.control.routes import (
    account,
    apis,
    audit,
    auth,
    catalog,
    dashboard,
    etl,
    institutions,
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
    *apis.ENDPOINTS,
    *catalog.ENDPOINTS,
    *dashboard.ENDPOINTS,
    *etl.ENDPOINTS,
    *tiers.ENDPOINTS,
)
