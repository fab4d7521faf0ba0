"""What an API needs beyond migration 2 to become a gateway ApiConfig, and its catalog details:
data classification, gateway groups, policies, and the state a BLOCKED API returns to when unblocked.

`backends` (migration 2) holds the whole backend document (endpoints, timeouts, health, retries,
preserve_host), not only the endpoint list.
"""

NAME = "api classification, groups, policies, blocked_from"

SQLITE = """
ALTER TABLE apis ADD COLUMN classification TEXT NOT NULL DEFAULT 'internal'
    CHECK (classification IN ('public', 'internal', 'confidential', 'secret'));
ALTER TABLE apis ADD COLUMN groups TEXT NOT NULL DEFAULT '["default"]';
ALTER TABLE apis ADD COLUMN policies TEXT NOT NULL DEFAULT '[]';
ALTER TABLE apis ADD COLUMN blocked_from TEXT CHECK (blocked_from IN ('PUBLISHED', 'DEPRECATED'));
"""

POSTGRES = """
ALTER TABLE apis ADD COLUMN classification TEXT NOT NULL DEFAULT 'internal'
    CHECK (classification IN ('public', 'internal', 'confidential', 'secret'));
ALTER TABLE apis ADD COLUMN groups JSONB NOT NULL DEFAULT '["default"]'::jsonb;
ALTER TABLE apis ADD COLUMN policies JSONB NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE apis ADD COLUMN blocked_from TEXT CHECK (blocked_from IN ('PUBLISHED', 'DEPRECATED'));
"""
