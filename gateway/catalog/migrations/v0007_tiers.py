"""Throttling tiers in the catalog (issue 5): named quotas an operator changes through the control API.

One row per (kind, name). Rates are text in the limits notation ("5000/minute"), validated by the store
before they are written; NULL requests means unlimited. The gateway merges these over conf/ tiers
(gateway.catalog.export.catalog_tiers).
"""

NAME = "throttling tiers"

_TEMPLATE = """
CREATE TABLE tiers (
    kind TEXT NOT NULL CHECK (kind IN ('subscription', 'application')),
    name TEXT NOT NULL,
    requests TEXT,
    burst TEXT,
    description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
"""

SQLITE = _TEMPLATE
POSTGRES = _TEMPLATE
