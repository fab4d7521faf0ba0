"""When each user was last active, for the dashboard's "Active Visitor" figure.

Not audited (a visit is not a change to the catalog) and written at most once a minute per user.
"""

NAME = "users.last_seen_at"

SQLITE = """
ALTER TABLE users ADD COLUMN last_seen_at TEXT;
CREATE INDEX users_last_seen ON users (last_seen_at);
"""

POSTGRES = SQLITE
