"""Client certificates and the JWE public key of an application (issue 11): what mTLS identifies it by and
what responses are encrypted to. Public material only; one row per application, deleted with it."""

NAME = "application certificates"

_TEMPLATE = """
CREATE TABLE application_certificates (
    application_id TEXT PRIMARY KEY REFERENCES applications (id) ON DELETE CASCADE,
    cert_fingerprints {json} NOT NULL,
    cert_subjects {json} NOT NULL,
    jwe_public_key TEXT,
    updated_at TEXT NOT NULL
);
"""

SQLITE = _TEMPLATE.replace("{json}", "TEXT")
POSTGRES = _TEMPLATE.replace("{json}", "JSONB")
