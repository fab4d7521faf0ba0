"""The catalog schema as an ordered list of migrations; `gateway.catalog.migrate` applies them.

Rules for a new migration: append a module `vNNNN_<what>.py` with `NAME`, `SQLITE` and `POSTGRES`
(plain SQL, statements ending with `;` at a line end), add it below, never edit an applied one.
Numbers run 1..N without gaps (migrate.py refuses a gap): branches written in parallel renumber at merge.
Each runs in one transaction together with its schema_version row, so a failed upgrade leaves the
previous schema and every row untouched. Migrations only add or reshape: data is copied, never dropped.

Why modules and not .sql files: they ship inside the wheel without package-data settings, and each
can hold the two dialects side by side where they differ (ids, JSON, timestamps).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from gateway.catalog.migrations import (
    v0001_tenants_users_audit,
    v0002_apis,
    v0003_api_details,
    v0004_user_last_seen,
    v0005_applications_subscriptions_approvals,
    v0006_api_definitions_documents,
    v0007_tiers,
    v0008_application_key_managers,
    v0009_application_shares_four_eyes,
    v0010_application_certificates,
    v0011_etl_runs,
    v0012_etl_queue,
    v0013_etl_schedules,
    v0014_etl_webhook_nonces,
    v0015_etl_connections,
)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sqlite: str
    postgres: str

    def sql(self, dialect: str) -> str:
        return self.sqlite if dialect == "sqlite" else self.postgres


def _from(version: int, module: ModuleType) -> Migration:
    return Migration(version, module.NAME, module.SQLITE, module.POSTGRES)


MIGRATIONS: tuple[Migration, ...] = (
    _from(1, v0001_tenants_users_audit),
    _from(2, v0002_apis),
    _from(3, v0003_api_details),
    _from(4, v0004_user_last_seen),
    _from(5, v0005_applications_subscriptions_approvals),
    _from(6, v0006_api_definitions_documents),
    _from(7, v0007_tiers),
    _from(8, v0008_application_key_managers),
    _from(9, v0009_application_shares_four_eyes),
    _from(10, v0010_application_certificates),
    _from(11, v0011_etl_runs),
    _from(12, v0012_etl_queue),
    _from(13, v0013_etl_schedules),
    _from(14, v0014_etl_webhook_nonces),
    _from(15, v0015_etl_connections),
)
