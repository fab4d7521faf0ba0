"""The catalog feed: what the control API commits reaches every gateway node within a second.

view.py     reads the served part of the catalog (APIs, and what later issues add) as gateway config
compose.py  merges that view into the conf/ files' config, so one snapshot builder serves both
watch.py    notices committed changes (PostgreSQL LISTEN/NOTIFY, SQLite polling) and resyncs
"""
