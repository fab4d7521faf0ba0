"""Application owners and sharing, and the four-eyes rule on approvals.

An application's owner (applications.owner_id, its creator) may share it with other users of the
tenant's scope; a subscriber acts only on applications they own or that are shared with them.
approval_settings.four_eyes: the user who asked for a change may not approve it.
"""

NAME = "application shares, four-eyes approvals"

_TEMPLATE = """
CREATE TABLE application_shares (
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (application_id, user_id)
);
CREATE INDEX application_shares_user ON application_shares (user_id);
CREATE INDEX applications_owner ON applications (owner_id);

ALTER TABLE approval_settings ADD COLUMN four_eyes BOOLEAN NOT NULL DEFAULT FALSE;
"""

SQLITE = _TEMPLATE
POSTGRES = _TEMPLATE
