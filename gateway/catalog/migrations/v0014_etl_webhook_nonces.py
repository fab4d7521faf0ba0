"""Nonces of signed ETL webhook requests seen in the replay window (gateway/etl/webhooks.py)."""

NAME = "etl webhook nonces"

_TEMPLATE = """
CREATE TABLE etl_webhook_nonces (
    job TEXT NOT NULL,
    nonce TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (job, nonce)
);
CREATE INDEX etl_webhook_nonces_seen ON etl_webhook_nonces (seen_at);
"""

SQLITE = _TEMPLATE
POSTGRES = _TEMPLATE
