"""After a run: per step, source and target row counts and a checksum over the mapped columns.

The source side re-reads the source through the same mapping (IDMap lookups included), the target side
reads the written columns back (only this job's rows when the step keeps an IDMap). Checksums are sums of
per-row hashes mod 2**64, so row order does not matter. Rows the mapping cannot produce are reported as
`unmappable`; a step matches when target rows = source rows - unmappable and the checksums agree.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

from . import values as V
from .connectors.base import IdScope
from .plan import StepPlan
from .runner import Prepared, Rejects, RunContext, prepare


async def reconcile_step(plan: StepPlan, ctx: RunContext, mode: str) -> dict[str, Any]:
    target = ctx.targets[plan.step.target.connection]
    scope = IdScope(ctx.job, plan.table, plan.step.idmap) if plan.step.idmap else None
    result: dict[str, Any] = {"table": plan.table, "target_rows": await target.count(plan.table, scope)}
    source = plan.new_source()
    await source.open()
    try:
        await source.describe()
        if mode == "counts":
            result["source_rows"] = await source.count()
            result["match"] = result["source_rows"] == result["target_rows"]
            return result
        columns = plan.columns
        families = [c.family for c in columns]
        total, unmappable, checksum = 0, 0, 0
        async with aclosing(source.batches(plan.batch_size)) as batches:
            async for batch in batches:
                total += len(batch)
                rejects = Rejects(ctx, plan.name)
                async with target.session() as session:
                    rows: list[Prepared] = await prepare(plan, ctx, batch, session, rejects, columns=columns)
                unmappable += len(batch) - len(rows)
                for p in rows:
                    checksum = (checksum + V.row_hash(p.values, families)) & V.MASK
    finally:
        await source.close()
    target_sum = 0
    async for rows_t in target.scan(plan.table, [c.name for c in columns], scope, plan.batch_size):
        for r in rows_t:
            target_sum = (target_sum + V.row_hash(r, families)) & V.MASK
    result.update(
        source_rows=total,
        unmappable=unmappable,
        source_checksum=f"{checksum:016x}",
        target_checksum=f"{target_sum:016x}",
    )
    result["match"] = result["target_rows"] == total - unmappable and checksum == target_sum
    return result
