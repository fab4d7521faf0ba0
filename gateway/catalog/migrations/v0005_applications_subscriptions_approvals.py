"""Consumer applications (OAuth clients) with their API keys, subscriptions to APIs, and the approval
workflow: which changes a tenant wants approved, and the queue of requests waiting for a decision.

Secrets are stored only as hashes: the client secret as scrypt (keymanager.hashing.hash_secret), API keys
as `sha256:<hex>`, the shapes gateway.config.consumers.ApplicationConfig expects. One PENDING request
per (kind, object) at a time (a partial unique index, on both engines).
"""

NAME = "applications, api keys, subscriptions, approvals"

_TEMPLATE = """
CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    owner_id TEXT,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    tier TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'PENDING_APPROVAL', 'REJECTED', 'BLOCKED')),
    client_secret_hash TEXT NOT NULL,
    grant_types {json} NOT NULL,
    scopes {json} NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX applications_status ON applications (status);

CREATE TABLE application_keys (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX application_keys_application ON application_keys (application_id);

CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    api_id TEXT NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    tier TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'PENDING_APPROVAL', 'REJECTED', 'BLOCKED')),
    created_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (application_id, api_id)
);
CREATE INDEX subscriptions_api ON subscriptions (api_id);

CREATE TABLE approval_settings (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    api_state_change BOOLEAN NOT NULL DEFAULT FALSE,
    api_update BOOLEAN NOT NULL DEFAULT FALSE,
    application_creation BOOLEAN NOT NULL DEFAULT FALSE,
    subscription BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TEXT NOT NULL
);

CREATE TABLE approval_requests (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('api_state_change', 'api_update', 'application_creation', 'subscription')),
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    payload {json} NOT NULL,
    requested_by TEXT,
    requested_by_name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED')),
    decided_by TEXT,
    decided_by_name TEXT,
    decided_at TEXT,
    reason TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX approval_requests_queue ON approval_requests (tenant_id, status, created_at);
CREATE UNIQUE INDEX approval_requests_one_pending ON approval_requests (kind, object_id) WHERE status = 'PENDING';
"""

SQLITE = _TEMPLATE.replace("{json}", "TEXT")
POSTGRES = _TEMPLATE.replace("{json}", "JSONB")
