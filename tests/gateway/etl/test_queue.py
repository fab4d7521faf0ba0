"""The queue's connection string: the catalog's asyncpg URI read by libpq (procrastinate uses psycopg)."""

from __future__ import annotations

from gateway.etl.queue import libpq_conninfo


def test_server_settings_become_libpq_options() -> None:
    assert libpq_conninfo("postgresql://u@h:5432/db?search_path=t_1&sslmode=require") == (
        "postgresql://u@h:5432/db?sslmode=require&options=-c%20search_path%3Dt_1"
    )
    assert libpq_conninfo("postgresql://u@h/db") == "postgresql://u@h/db"
