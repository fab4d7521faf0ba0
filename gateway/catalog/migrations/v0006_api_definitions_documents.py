"""API definitions and API documents.

`api_definitions`: the source an API was imported from (OpenAPI 3.x, Swagger 2.0 or WSDL 1.1), kept
verbatim so an export can give back what the publisher wrote (parameters, schemas, SOAP bindings),
with what the import found (`operations`: method, path, SOAPAction...). One per API.

`api_documents`: files (bytes in the database, capped by the store) and https links attached to an
API. Both go with their API (ON DELETE CASCADE); the API's own audit row records its deletion.
"""

NAME = "api definitions and documents"

_TEMPLATE = """
CREATE TABLE api_definitions (
    api_id TEXT PRIMARY KEY REFERENCES apis (id) ON DELETE CASCADE,
    format TEXT NOT NULL CHECK (format IN ('openapi', 'swagger', 'wsdl')),
    spec_version TEXT NOT NULL,
    source TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    operations {json} NOT NULL,
    created_by TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE api_documents (
    id TEXT PRIMARY KEY,
    api_id TEXT NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('file', 'link')),
    filename TEXT,
    content_type TEXT,
    size INTEGER,
    sha256 TEXT,
    content {blob},
    url TEXT,
    created_by TEXT,
    created_at TEXT NOT NULL,
    CHECK ((kind = 'file' AND content IS NOT NULL AND url IS NULL)
        OR (kind = 'link' AND url IS NOT NULL AND content IS NULL))
);
CREATE INDEX api_documents_api ON api_documents (api_id, created_at);
"""

SQLITE = _TEMPLATE.replace("{json}", "TEXT").replace("{blob}", "BLOB")
POSTGRES = _TEMPLATE.replace("{json}", "JSONB").replace("{blob}", "BYTEA")
