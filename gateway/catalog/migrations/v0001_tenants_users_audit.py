"""Tenants (institutions, a tree), users with one role each, and the audit log.

Ids are text (UUIDs made by the store) so both engines share one SQL text; times are ISO 8601 UTC
text (`2025-01-31T12:00:00.000000Z`, sortable); JSON is text on SQLite and jsonb on PostgreSQL.
"""

NAME = "tenants, users, audit log"

_COMMON = """
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('national', 'ministry', 'agency', 'province', 'regency', 'city', 'unit')),
    parent_id TEXT REFERENCES tenants (id),
    description TEXT NOT NULL DEFAULT '',
    email TEXT,
    phone TEXT,
    website TEXT,
    address TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX tenants_parent ON tenants (parent_id);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    username TEXT NOT NULL UNIQUE,
    email TEXT,
    full_name TEXT NOT NULL DEFAULT '',
    phone TEXT,
    role TEXT NOT NULL CHECK (role IN ('super_admin', 'tenant_admin', 'publisher', 'subscriber', 'auditor')),
    password_hash TEXT NOT NULL,
    session_version INTEGER NOT NULL DEFAULT 1,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX users_tenant ON users (tenant_id);
"""

SQLITE = (
    _COMMON
    + """
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    actor_tenant_id TEXT,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    tenant_id TEXT,
    before TEXT,
    after TEXT
);
CREATE INDEX audit_object ON audit_log (object_type, object_id);
CREATE INDEX audit_tenant ON audit_log (tenant_id, id);
"""
)

POSTGRES = (
    _COMMON
    + """
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    actor_tenant_id TEXT,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    tenant_id TEXT,
    before JSONB,
    after JSONB
);
CREATE INDEX audit_object ON audit_log (object_type, object_id);
CREATE INDEX audit_tenant ON audit_log (tenant_id, id);
"""
)
