"""The catalog store: tenants, users, roles, audit log, APIs. SQLite embedded, PostgreSQL for clusters.

See store.py for the entry point (`open_store`), migrate.py for schema upgrades.
"""
