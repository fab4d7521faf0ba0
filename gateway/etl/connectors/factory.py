"""Build connectors from job configuration (the only place that knows every connector class)."""

from __future__ import annotations

from pathlib import Path

from ..model import FileSource as FileSpec
from ..model import JobConfig, MysqlConnection, PostgresConnection, SqliteConnection, StepConfig
from .base import Source, Target
from .csvfile import CsvSource
from .filebase import FileSource
from .jsonfile import JsonArraySource, JsonLinesSource
from .mysql import MysqlSource, MysqlTarget
from .postgres import PostgresSource, PostgresTarget
from .sqlite import SqliteSource, SqliteTarget
from .xlsxfile import XlsxSource
from .xmlfile import XmlSource

_FILES: dict[str, type[FileSource]] = {
    "csv": CsvSource,
    "json": JsonArraySource,
    "jsonl": JsonLinesSource,
    "xml": XmlSource,
    "xlsx": XlsxSource,
}


def _mysql_params(conn: MysqlConnection) -> dict[str, object]:
    return {
        "host": conn.host,
        "port": conn.port,
        "user": conn.user,
        "password": conn.password,
        "database": conn.database,
    }


def make_source(job: JobConfig, job_dir: Path, step: StepConfig) -> Source:
    src = step.source
    watermark = step.watermark if step.mode == "incremental" else None
    if isinstance(src, FileSpec):
        return _FILES[src.format](job_dir / src.file, src)
    conn = job.connections[src.connection]
    if isinstance(conn, PostgresConnection):
        return PostgresSource(conn.dsn, src.table, src.key, src.where, watermark)
    if isinstance(conn, MysqlConnection):
        return MysqlSource(_mysql_params(conn), conn.timezone, src.table, src.key, src.where, watermark)
    if not isinstance(conn, SqliteConnection):
        raise TypeError(f"connection {src.connection}: no source for {type(conn).__name__}")
    return SqliteSource(str(job_dir / conn.path), src.table, src.key, src.where, watermark)


def make_target(job: JobConfig, job_dir: Path, name: str) -> Target:
    conn = job.connections[name]
    if isinstance(conn, PostgresConnection):
        return PostgresTarget(conn.dsn)
    if isinstance(conn, MysqlConnection):
        return MysqlTarget(_mysql_params(conn))
    if not isinstance(conn, SqliteConnection):
        raise TypeError(f"connection {name}: no target for {type(conn).__name__}")
    return SqliteTarget(str(job_dir / conn.path))
