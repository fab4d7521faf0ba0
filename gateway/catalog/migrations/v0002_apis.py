"""APIs in the catalog: one row per (context, version), owned by a tenant, with a lifecycle state.

Backends and resources are JSON documents validated by the store's pydantic models; tags live in
their own table so catalog search can filter on them with an index.
"""

NAME = "apis and tags"

_TEMPLATE = """
CREATE TABLE apis (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    context TEXT NOT NULL,
    version TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'tenant', 'restricted')),
    visible_tenants {json} NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('CREATED', 'PUBLISHED', 'DEPRECATED', 'RETIRED', 'BLOCKED')),
    backends {json} NOT NULL,
    resources {json} NOT NULL,
    created_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (context, version)
);
CREATE INDEX apis_tenant ON apis (tenant_id);
CREATE INDEX apis_status ON apis (status);

CREATE TABLE api_tags (
    api_id TEXT NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (api_id, tag)
);
CREATE INDEX api_tags_tag ON api_tags (tag);
"""

SQLITE = _TEMPLATE.replace("{json}", "TEXT")
POSTGRES = _TEMPLATE.replace("{json}", "JSONB")
