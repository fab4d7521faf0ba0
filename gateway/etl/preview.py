"""What a job would do, without writing: order, proposed column mapping, sample rows after mapping."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

from .connectors.base import Target
from .plan import JobPlan, StepPlan
from .runner import Rejects, RunContext, prepare


def _origin(plan: StepPlan, name: str) -> str:
    cm = plan.step.columns.get(name)
    if cm is None:
        return f"from {name} (auto)"
    if "from_" in cm.model_fields_set:
        return f"from {cm.from_}"
    if "const" in cm.model_fields_set:
        return f"const {cm.const!r}"
    return f"expr {cm.expr}"


async def _noop(*_: Any) -> None:
    return None


async def preview_plan(plan: JobPlan, targets: dict[str, Target], rows: int) -> dict[str, Any]:
    ctx = RunContext("preview", plan.job.name, targets, plan.variables, 1 << 62, _noop, _noop, preview=True)
    out: dict[str, Any] = {
        "job": plan.job.name,
        "order": list(plan.order.steps),
        "deferred": [f"{e.child}.{e.column}" for e in plan.order.deferred],
        "steps": [],
    }
    for sp in plan.ordered():
        mapped = {c.name for c in sp.columns}
        used = {c.source for c in sp.columns if c.source}
        columns = []
        for c in sp.columns:
            src = sp.source_info.column(c.source) if c.source else None
            columns.append(
                {
                    "target": c.name,
                    "type": c.target.type,
                    "origin": _origin(sp, c.name),
                    "source_type": src.type if src else None,
                    "lookup": c.lookup.step if c.lookup else None,
                    "deferred": c.deferred,
                }
            )
        sample: list[dict[str, Any]] = []
        rejected: list[str] = []
        source = sp.new_source()
        await source.open()
        try:
            await source.describe()
            async with aclosing(source.batches(rows)) as batches:
                async for batch in batches:
                    rej = Rejects(ctx, sp.name)
                    async with targets[sp.step.target.connection].session() as session:
                        prepared = await prepare(sp, ctx, batch, session, rej, columns=sp.columns)
                    sample = [dict(zip([c.name for c in sp.columns], p.values, strict=True)) for p in prepared]
                    rejected = [rej.message(i) for i in range(len(rej.records))]
                    break
        finally:
            await source.close()
        out["steps"].append(
            {
                "name": sp.name,
                "source": sp.source_info.name,
                "target": sp.table,
                "mode": sp.step.mode,
                "idmap": sp.step.idmap,
                "columns": columns,
                "unmapped_target": [
                    c.name for c in sp.target_info.columns if c.name not in mapped and c.name != sp.step.idmap
                ],
                "unused_source": [c.name for c in sp.source_info.columns if c.name not in used],
                "sample": sample,
                "sample_rejected": rejected,
            }
        )
    return out
