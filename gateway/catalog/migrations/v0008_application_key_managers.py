"""The key managers whose tokens may speak for an application (issue 10): a JSON list of names, so one
application can be known to several (an IdP's JWTs and its opaque tokens introspected at the same IdP).
Existing applications keep what they had: the resident key manager only.
"""

NAME = "applications.key_managers"

_TEMPLATE = """
ALTER TABLE applications ADD COLUMN key_managers {json} NOT NULL DEFAULT {default};
"""

SQLITE = _TEMPLATE.format(json="TEXT", default="'[\"resident\"]'")
POSTGRES = _TEMPLATE.format(json="JSONB", default="'[\"resident\"]'::jsonb")
