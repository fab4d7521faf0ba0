"""Turn a validated job into an executable plan: metadata read, mappings compiled, steps ordered."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ddl
from .connectors.base import Source, Target
from .connectors.factory import make_source
from .errors import ConnectorError, PlanError, SourceError
from .mapping import ColumnPlan, compile_columns, load_callable
from .metadata import TableInfo, same_table
from .model import FileSource, JobConfig, MysqlConnection, StepConfig, TableSource
from .planner import Edge, Order, order_steps


@dataclass
class StepPlan:
    job: JobConfig
    step: StepConfig
    source_info: TableInfo
    target_info: TableInfo
    columns: list[ColumnPlan]
    source_key: list[str]
    batch_size: int
    job_dir: Path
    row_fn: Callable[..., Any] | None = None
    batch_fn: Callable[..., Any] | None = None
    update_key: str | None = None  # target column that identifies a row for deferred updates
    edges: list[Edge] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.step.name

    @property
    def table(self) -> str:
        return self.step.target.table

    @property
    def written(self) -> list[ColumnPlan]:
        return [c for c in self.columns if not c.deferred]

    @property
    def deferred(self) -> list[ColumnPlan]:
        return [c for c in self.columns if c.deferred]

    @property
    def conflict(self) -> list[str] | None:
        if self.step.mode in ("upsert", "incremental") and self.step.key:
            return list(self.step.key)
        return None

    def new_source(self) -> Source:
        return make_source(self.job, self.job_dir, self.step)


@dataclass
class JobPlan:
    job: JobConfig
    steps: dict[str, StepPlan]
    order: Order
    variables: dict[str, Any]

    def ordered(self) -> list[StepPlan]:
        return [self.steps[n] for n in self.order.steps]


def _zone(job: JobConfig, step: StepConfig) -> str:
    if isinstance(step.source, TableSource):
        conn = job.connections[step.source.connection]
        if isinstance(conn, MysqlConnection):
            return conn.timezone
    return "UTC"


async def describe_source(job: JobConfig, job_dir: Path, step: StepConfig) -> TableInfo:
    source = make_source(job, job_dir, step)
    try:
        await source.open()
        return await source.describe()
    except (ConnectorError, SourceError) as exc:
        raise PlanError(job.name, step.name, str(exc)) from None
    finally:
        await source.close()


async def build_plan(
    job: JobConfig, job_dir: Path, variables: Mapping[str, Any], targets: Mapping[str, Target]
) -> JobPlan:
    idmap_steps = {s.name: s for s in job.steps if s.idmap}
    plans: dict[str, StepPlan] = {}
    for step in job.steps:
        target = targets[step.target.connection]
        tinfo = await target.describe(step.target.table)
        sinfo = await describe_source(job, job_dir, step)
        if tinfo is None:
            hint = ""
            if target.dialect == "postgres" and sinfo.dialect in ("mysql", "postgres", "sqlite"):
                hint = f"; a table shaped like the source would be: {ddl.propose_table(sinfo, step.target.table)}"
            raise PlanError(
                job.name,
                step.name,
                f"target table {step.target.table} does not exist in connection {step.target.connection}{hint}",
            )
        if step.mode == "incremental" and isinstance(step.source, FileSource):
            raise PlanError(job.name, step.name, "mode incremental needs a table source with a watermark column")
        if step.watermark and sinfo.column(step.watermark) is None:
            raise PlanError(
                job.name, step.name, f"watermark: source column {step.watermark!r} does not exist in {sinfo.name}"
            )
        source_key = list(getattr(step.source, "key", None) or sinfo.primary_key)
        for k in source_key:
            if sinfo.column(k) is None and sinfo.dialect != "loose" and k != "rowid":
                raise PlanError(job.name, step.name, f"source.key: column {k!r} does not exist in {sinfo.name}")
        if step.idmap and not source_key:
            raise PlanError(
                job.name, step.name, f"idmap needs a source key: {sinfo.name} has no primary key; set source.key"
            )
        for k in step.key or ():
            if tinfo.column(k) is None:
                raise PlanError(job.name, step.name, f"key: target {tinfo.name} has no column {k!r}")
        columns = compile_columns(job.name, step, sinfo, tinfo, variables, idmap_steps, _zone(job, step))
        plan = StepPlan(
            job,
            step,
            sinfo,
            tinfo,
            columns,
            source_key,
            step.batch_size or job.batch_size,
            job_dir,
            row_fn=load_callable(step.transform, job.name, step.name) if step.transform else None,
            batch_fn=load_callable(step.transform_batch, job.name, step.name) if step.transform_batch else None,
        )
        pk = tinfo.primary_key
        plan.update_key = step.idmap or (pk[0] if len(pk) == 1 and any(c.name == pk[0] for c in columns) else None)
        plans[step.name] = plan

    edges: list[Edge] = []
    for plan in plans.values():
        seen: set[str] = set()
        for col in plan.columns:
            if col.lookup:
                edges.append(Edge(plan.name, col.lookup.step, col.name, col.target.nullable))
                seen.add(col.name)
        for fk in plan.target_info.foreign_keys:
            if len(fk.columns) != 1 or fk.columns[0] in seen or fk.columns[0] not in {c.name for c in plan.columns}:
                continue
            for other in plans.values():
                if same_table(other.table, fk.ref_table):
                    fk_column = plan.target_info.column(fk.columns[0])
                    if fk_column is not None:  # listed among plan.columns, so the target has it
                        edges.append(Edge(plan.name, other.name, fk_column.name, fk_column.nullable))
        for dep in plan.step.depends_on:
            edges.append(Edge(plan.name, dep, "(depends_on)", False))
    order = order_steps(job.name, [s.name for s in job.steps], edges, job.order == "explicit")
    for e in order.deferred:
        plan = plans[e.child]
        for col in plan.columns:
            if col.name == e.column:
                col.deferred = True
        if plan.update_key is None:
            raise PlanError(
                job.name,
                plan.name,
                f"column {e.column} must be filled after the load to break a "
                "cycle, but the target rows have no single key to update them by",
            )
    return JobPlan(job, plans, order, dict(variables))
