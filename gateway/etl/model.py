"""Job files as frozen models: connections, steps, column mappings.

A job reads from sources (database tables or files), maps each row to a target table and writes it in
batches. Unknown keys are errors; every field is described so the schema documents itself.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

NAME_RE = r"^[A-Za-z_][A-Za-z0-9_\-]*$"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class PostgresConnection(_Model):
    kind: Literal["postgres"] = Field(description="PostgreSQL through asyncpg")
    dsn: str = Field(description="asyncpg DSN, e.g. postgresql://postgres@127.0.0.1:5432/app")


class MysqlConnection(_Model):
    kind: Literal["mysql"] = Field(description="MySQL or MariaDB through asyncmy")
    host: str = Field("127.0.0.1", description="server host")
    port: int = Field(3306, description="server port")
    user: str = Field("root", description="user name")
    password: str = Field("", description="password (use ${ENV} interpolation in real jobs)")
    database: str = Field(description="database (schema) name")
    timezone: str = Field(
        "UTC",
        description="IANA zone that naive DATETIME values are written in; TIMESTAMP columns are read as UTC",
    )


class SqliteConnection(_Model):
    kind: Literal["sqlite"] = Field(description="SQLite file through aiosqlite")
    path: str = Field(description="database file, relative to the job file")


class CatalogConnection(_Model):
    kind: Literal["catalog"] = Field(description="a connection registered in the catalog (credentials sealed there)")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="its name: POST /api/v1/etl/connections")


DatabaseConnection = Annotated[PostgresConnection | MysqlConnection | SqliteConnection, Field(discriminator="kind")]
Connection = Annotated[
    PostgresConnection | MysqlConnection | SqliteConnection | CatalogConnection, Field(discriminator="kind")
]


class TableSource(_Model):
    connection: str = Field(description="name of a connection in `connections`")
    table: str = Field(description="table name, optionally schema-qualified")
    key: tuple[str, ...] | None = Field(
        None, description="columns that identify a row and order the read (default: the primary key)"
    )
    where: str | None = Field(None, description="SQL filter appended to the read (trusted operator text)")


class FileSource(_Model):
    file: str = Field(description="path of the input file, relative to the job file")
    format: Literal["csv", "json", "jsonl", "xml", "xlsx"] = Field(description="file format")
    encoding: str = Field("utf-8", description="text encoding of csv/json/jsonl files")
    delimiter: str = Field(",", min_length=1, max_length=1, description="csv field delimiter")
    header: bool = Field(True, description="csv/xlsx: the first row names the columns")
    columns: tuple[str, ...] | None = Field(None, description="column names when the file has no header row")
    record: str | None = Field(None, description="xml: tag of the element that holds one record")
    sheet: str | None = Field(None, description="xlsx: sheet name (default: the first sheet)")
    key: tuple[str, ...] | None = Field(None, description="columns that identify a row (IDMap, upsert)")

    @model_validator(mode="after")
    def _format_rules(self) -> FileSource:
        if self.format == "xml" and not self.record:
            raise ValueError("format xml requires `record`, the tag of one record element")
        if not self.header and not self.columns and self.format in ("csv", "xlsx"):
            raise ValueError("header: false requires `columns`")
        return self


def _source_tag(value: Any) -> str:
    if isinstance(value, dict):
        return "file" if "file" in value else "table"
    return "file" if isinstance(value, FileSource) else "table"


StepSource = Annotated[
    Annotated[TableSource, Tag("table")] | Annotated[FileSource, Tag("file")], Discriminator(_source_tag)
]


class TargetSpec(_Model):
    connection: str = Field(description="name of a database connection in `connections`")
    table: str = Field(description="target table, optionally schema-qualified")


class ColumnMap(_Model):
    """Where one target column's value comes from: exactly one of from, const, expr."""

    from_: str | None = Field(None, alias="from", description="source column")
    const: Any = Field(None, description="a constant; strings may hold ${variables}")
    expr: str | None = Field(None, description="an expression in the safe expression language (see expr.py)")
    lookup: str | None = Field(
        None, description="name of an IDMap step: the value is a source key rewritten to that step's target key"
    )
    on_missing: Literal["reject", "null"] = Field(
        "reject", description="lookup: what to do when the key has no IDMap entry"
    )

    @model_validator(mode="after")
    def _one_origin(self) -> ColumnMap:
        given = [n for n in ("from_", "const", "expr") if n in self.model_fields_set]
        if len(given) != 1:
            raise ValueError("give exactly one of from, const, expr")
        return self


Mode = Literal["append", "upsert", "replace", "incremental"]


class StepConfig(_Model):
    name: str = Field(pattern=NAME_RE, description="step name, unique in the job")
    source: StepSource = Field(description="a table (connection + table) or a file (file + format)")
    target: TargetSpec = Field(description="target table")
    mode: Mode = Field(
        "append",
        description="append: insert; upsert: insert or update on `key`; replace: load a new table and swap it "
        "in at the end; incremental: read rows whose `watermark` is at or past the last run's and upsert them",
    )
    key: tuple[str, ...] | None = Field(None, description="upsert/incremental: target columns of the conflict key")
    watermark: str | None = Field(None, description="incremental: source column that grows with every change")
    idmap: str | None = Field(
        None,
        description="target key column generated by the target (auto-increment); rows are inserted without the "
        "source key and the (source key -> target key) pairs are kept in the IDMap",
    )
    auto_map: bool = Field(True, description="map target columns to source columns of the same name")
    columns: dict[str, ColumnMap] = Field(
        default_factory=dict, description="target column -> mapping; a plain string is a source column name"
    )
    exclude: tuple[str, ...] = Field((), description="target columns never auto-mapped")
    transform: str | None = Field(
        None, description="'package.module:function' called per source row: f(row, ctx) -> row or None (skip)"
    )
    transform_batch: str | None = Field(
        None, description="'package.module:function' called per batch: f(rows, ctx) -> rows"
    )
    batch_size: int | None = Field(None, ge=1, le=100_000, description="rows per batch (default: the job's)")
    depends_on: tuple[str, ...] = Field((), description="steps that must run before this one")

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ({"from": v} if isinstance(v, str) else v) for k, v in value.items()}
        return value

    @field_validator("transform", "transform_batch")
    @classmethod
    def _callable_path(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", value):
            raise ValueError("expected 'package.module:function'")
        return value

    @model_validator(mode="after")
    def _mode_rules(self) -> StepConfig:
        if self.mode == "incremental" and not self.watermark:
            raise ValueError("mode incremental requires `watermark`, the source column that grows with every change")
        if self.mode in ("upsert", "incremental") and not self.key and not self.idmap:
            raise ValueError(f"mode {self.mode} requires `key` (target conflict columns) or `idmap`")
        if self.mode == "replace" and self.idmap:
            raise ValueError("mode replace cannot keep an IDMap: the replaced table gets new keys every run")
        return self


class ScheduleConfig(_Model):
    cron: str = Field(description="cron expression (5 fields, croniter), e.g. '0 2 * * *' for 02:00 every day")
    timezone: str = Field("Asia/Jakarta", description="IANA time zone the expression is read in")
    missed: Literal["skip", "catch_up"] = Field(
        "skip",
        description="fire times missed while no worker ran: skip them, or catch up with one run (never several)",
    )
    params: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="parameters of the scheduled runs"
    )

    @model_validator(mode="after")
    def _fires(self) -> ScheduleConfig:
        from .schedule import check_schedule

        check_schedule(self.cron, self.timezone)
        return self


class WebhookConfig(_Model):
    token: str = Field(
        min_length=16, pattern=r"^[A-Za-z0-9_-]+$", description="the URL's secret part: POST /api/v1/etl/hooks/{token}"
    )
    secret: str = Field(min_length=16, description="HMAC-SHA256 key of the signature (use ${ENV:NAME})")
    params: tuple[str, ...] | None = Field(
        None, description="parameters a caller may pass in the body's `params` (default: every declared one)"
    )


class NotifyConfig(_Model):
    url: str = Field(pattern=r"^https?://", description="where a run's end is POSTed (signed, retried)")
    secret: str = Field(min_length=16, description="HMAC-SHA256 key of its signature (use ${ENV:NAME})")


class JobConfig(_Model):
    name: str = Field(pattern=NAME_RE, description="job name; IDMap, watermarks and checkpoints are kept per job")
    description: str = Field("", description="what the job is for")
    tenant: str | None = Field(
        None,
        description="slug of the tenant (institution) that owns the job: its tenant admins may run it through the "
        "control API and its auditors read its runs; without a tenant only super admins see the job",
    )
    connections: dict[str, Connection] = Field(description="named database connections")
    params: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="default job parameters, available as ${name}; overridden per run"
    )
    order: Literal["dependencies", "explicit"] = Field(
        "dependencies", description="dependencies: parents first by foreign keys; explicit: the order of `steps`"
    )
    batch_size: int = Field(1000, ge=1, le=100_000, description="default rows per batch")
    error_budget: int = Field(0, ge=0, description="rejected rows allowed per run before it fails")
    reconcile: Literal["full", "counts", "off"] = Field(
        "full", description="after the run: counts and checksums (full), counts only, or nothing"
    )
    schedule: ScheduleConfig | None = Field(None, description="run by the ETL workers' scheduler (cron)")
    webhook: WebhookConfig | None = Field(None, description="a signed URL that starts a run")
    after: tuple[str, ...] = Field((), description="job names: a run of this job starts when one of theirs succeeds")
    notify: tuple[NotifyConfig, ...] = Field((), description="webhooks told of each run's end")

    @field_validator("reconcile", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        """YAML 1.1 reads an unquoted `off` as false (and `on` as true): take them as the words written."""
        if value is False:
            return "off"
        if value is True:
            return "full"
        return value

    steps: tuple[StepConfig, ...] = Field(description="table steps, at least one")

    @field_validator("steps")
    @classmethod
    def _some_steps(cls, value: tuple[StepConfig, ...]) -> tuple[StepConfig, ...]:
        if not value:
            raise ValueError("at least one step is required")
        return value

    @model_validator(mode="after")
    def _references(self) -> JobConfig:
        names = [s.name for s in self.steps]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"step names must be unique; repeated: {', '.join(dupes)}")
        problems = []
        mapped: dict[str, str] = {}
        for step in self.steps:
            if step.idmap:
                other = mapped.setdefault(step.target.table.lower(), step.name)
                if other != step.name:
                    problems.append(
                        f"steps {other} and {step.name} both keep an IDMap for table {step.target.table}; "
                        "the IDMap is kept per job and table, so give each source its own job"
                    )
        for i, step in enumerate(self.steps):
            src = step.source
            if isinstance(src, TableSource) and src.connection not in self.connections:
                problems.append(f"steps[{i}].source.connection: unknown connection {src.connection!r}")
            if step.target.connection not in self.connections:
                problems.append(f"steps[{i}].target.connection: unknown connection {step.target.connection!r}")
            for dep in step.depends_on:
                if dep not in names:
                    problems.append(f"steps[{i}].depends_on: unknown step {dep!r}")
            for col, cm in step.columns.items():
                if cm.lookup and cm.lookup not in names:
                    problems.append(f"steps[{i}].columns.{col}.lookup: unknown step {cm.lookup!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def step(self, name: str) -> StepConfig:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)
