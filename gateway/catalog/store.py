"""The catalog store: one object holding the repositories (tenants, users, audit, apis, definitions,
documents, applications, subscriptions, approvals, tiers) over one database.

    store = await open_store("sqlite:///var/splp/catalog.db")   # or postgresql://...
    tenant = await store.tenants.create(actor, TenantCreate(...))
    await store.close()

Opening applies pending migrations first, so the code always runs on the schema it knows.
"""

from __future__ import annotations

from gateway.catalog.api_definitions import DefinitionRepository
from gateway.catalog.apis import ApiRepository
from gateway.catalog.applications import ApplicationRepository
from gateway.catalog.approvals import ApprovalRepository
from gateway.catalog.audit import AuditRepository
from gateway.catalog.certificates import CertificateRepository
from gateway.catalog.db import Database, open_database
from gateway.catalog.documents import DocumentRepository
from gateway.catalog.migrate import migrate
from gateway.catalog.subscriptions import SubscriptionRepository
from gateway.catalog.tenants import TenantRepository
from gateway.catalog.tiers import TierRepository
from gateway.catalog.users import UserRepository


class CatalogStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.tenants = TenantRepository(db)
        self.users = UserRepository(db)
        self.audit = AuditRepository(db)
        self.apis = ApiRepository(db)
        self.applications = ApplicationRepository(db)
        self.certificates = CertificateRepository(db)
        self.subscriptions = SubscriptionRepository(db)
        self.approvals = ApprovalRepository(db)
        self.definitions = DefinitionRepository(db, self.apis)
        self.documents = DocumentRepository(db)
        self.tiers = TierRepository(db)

    @property
    def dialect(self) -> str:
        return self.db.dialect

    async def close(self) -> None:
        await self.db.close()


async def open_store(uri: str, *, migrate_schema: bool = True) -> CatalogStore:
    db = await open_database(uri)
    try:
        if migrate_schema:
            await migrate(db)
    except BaseException:
        await db.close()
        raise
    return CatalogStore(db)
