"""Run one step: read a batch, map it, write it with its checkpoint in one transaction, repeat.

A batch either commits whole (rows, IDMap pairs, rejected rows, checkpoint) or not at all, so a run killed at
any moment resumes from the last committed batch. When the target refuses a batch (a constraint, a value the
database rejects), the batch is retried row by row under savepoints and only the refused rows are rejected.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import asdict, dataclass, field
from typing import Any

from . import values as V
from .connectors.base import Session, SourceRow, Target
from .connectors.postgres import PostgresSession
from .errors import BudgetExceeded, Cancelled, CopyRefused, EtlError, RowError
from .mapping import Lookup
from .model import FileSource as FileSpec
from .plan import StepPlan
from .prefetch import Prefetch

REJECT_DATA_LIMIT = 4000
ID_CACHE_LIMIT = 1_000_000  # pairs remembered per IDMap before the cache starts over


@dataclass
class StepCounts:
    read: int = 0
    written: int = 0
    skipped: int = 0
    rejected: int = 0
    seconds: float = 0.0
    state: str = "pending"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TransformContext:
    """What a custom transform sees besides the row."""

    job: str
    step: str
    variables: dict[str, Any]


class Where:
    """The step and connections a run is working on, for errors that must name them."""

    def __init__(self) -> None:
        self.text = "opening connections"

    def at(self, plan: StepPlan, phase: str) -> None:
        src = plan.step.source
        source = f"file {src.file}" if isinstance(src, FileSpec) else f"connection {src.connection}"
        self.text = f"step {plan.name} ({phase}; source {source}, target connection {plan.step.target.connection})"

    def __str__(self) -> str:
        return self.text


@dataclass
class RunContext:
    run_id: str
    job: str
    targets: dict[str, Target]
    variables: dict[str, Any]
    budget: int
    log: Callable[[str, str], Awaitable[None]]
    progress: Callable[[str, StepCounts], Awaitable[None]]
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    where: Where = field(default_factory=Where)
    preview: bool = False  # a preview: keys not in the IDMap yet are shown as "new", not rejected
    rejected_total: int = 0
    # IDMap tables that held no pair of this job when their step started: a source read in key order cannot
    # meet a key it has already loaded, so the existence lookup before inserting is skipped for them.
    fresh_maps: set[str] = field(default_factory=set)
    # Pairs read from IDMaps of finished steps: a committed pair never changes, so it is safe to remember.
    id_cache: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)

    async def cached_ids(self, session: Session, job: str, map_name: str, keys: set[str]) -> dict[str, int]:
        cache = self.id_cache.setdefault((job, map_name), {})
        missing = [k for k in keys if k not in cache]
        if missing:
            if len(cache) > ID_CACHE_LIMIT:
                cache.clear()
            cache.update(await session.lookup_ids(job, map_name, sorted(missing)))
        return cache


class Prepared:
    __slots__ = ("src", "data", "values", "key")

    def __init__(self, src: SourceRow, data: dict[str, Any], values: list[Any], key: str | None) -> None:
        self.src = src
        self.data = data
        self.values = values
        self.key = key


class Rejects:
    def __init__(self, ctx: RunContext, step: str) -> None:
        self.ctx = ctx
        self.step = step
        self.records: list[tuple[Any, ...]] = []
        self._positions: list[Any] = []

    def in_input_order(self) -> None:
        """Rejects are found in several passes over a batch; report them in the order of the input."""
        try:
            order = sorted(range(len(self.records)), key=lambda i: self._positions[i])
        except TypeError:  # positions that do not compare (NULL in a key): keep discovery order
            return
        self.records = [self.records[i] for i in order]
        self._positions = [self._positions[i] for i in order]

    def add(self, row: SourceRow, reason: str, column: str | None, data: Any) -> None:
        try:
            text = V.dumps(data) if data is not None else None
        except TypeError:
            text = repr(data)
        if text and len(text) > REJECT_DATA_LIMIT:
            text = text[:REJECT_DATA_LIMIT] + "..."
        self.records.append((self.ctx.run_id, self.ctx.job, self.step, row.where, column, reason, text))
        self._positions.append(row.position)

    def message(self, i: int = -1) -> str:
        r = self.records[i]
        col = f", column {r[4]}" if r[4] else ""
        return f"step {r[2]}, {r[3]}{col}: {r[5]}"


def _state(raw: str | None) -> dict[str, Any]:
    base = {"position": None, "read": 0, "written": 0, "skipped": 0, "rejected": 0, "done": False, "wm": None}
    if raw:
        base.update(V.loads(raw))
    return base


async def prepare(
    plan: StepPlan,
    ctx: RunContext,
    batch: Sequence[SourceRow],
    session: Session,
    rejects: Rejects,
    *,
    columns: Sequence[Any],
    counts: StepCounts | None = None,
) -> list[Prepared]:
    """Source rows -> converted target values (lookups resolved); bad rows go to `rejects`."""
    tctx = TransformContext(ctx.job, plan.name, ctx.variables)
    rows: list[tuple[SourceRow, dict[str, Any]]] = []
    for r in batch:
        if r.error is not None or r.data is None:
            rejects.add(r, r.error or "unreadable record", r.column, None)
            continue
        data = r.data
        if plan.row_fn is not None:
            try:
                data = plan.row_fn(data, tctx)
            except Exception as exc:  # user code: any failure rejects this row only
                rejects.add(r, f"transform {plan.step.transform} raised {type(exc).__name__}: {exc}", None, r.data)
                continue
            if data is None:
                if counts:
                    counts.skipped += 1
                continue
        rows.append((r, data))
    if plan.batch_fn is not None and rows:
        try:
            out = plan.batch_fn([d for _, d in rows], tctx)
        except Exception as exc:
            raise EtlError(
                f"job {ctx.job}, step {plan.name}: transform_batch {plan.step.transform_batch} raised "
                f"{type(exc).__name__}: {exc}"
            ) from None
        if len(out) != len(rows):
            raise EtlError(
                f"job {ctx.job}, step {plan.name}: transform_batch must return one row (or None) per "
                f"input row; got {len(out)} for {len(rows)}"
            )
        kept = []
        for (r, _), d in zip(rows, out, strict=True):
            if d is None:
                if counts:
                    counts.skipped += 1
            else:
                kept.append((r, d))
        rows = kept

    prepared: list[Prepared] = []
    lookup_idx = [i for i, c in enumerate(columns) if c.lookup is not None]
    # (getter, converter) per column; a lookup column keeps its raw source key until the IDMap is read
    steps = [(c.getter, None if c.lookup is not None else c.convert, c.name) for c in columns]
    key_cols = plan.source_key if plan.step.idmap else None
    for r, data in rows:
        vals: list[Any] = []
        name = ""
        try:
            for getter, convert, col_name in steps:
                name = col_name  # kept for the message when the getter or the converter refuses
                v = getter(data)
                vals.append(v if convert is None else convert(v))
            key = None
            if key_cols:
                key_values = [data.get(k) for k in key_cols]
                for k, v in zip(key_cols, key_values, strict=True):
                    if v is None or (isinstance(v, str) and not v.strip()):
                        raise RowError("the source key is empty; an IDMap row needs one", k)
                key = V.key_text(key_values)
        except RowError as exc:
            rejects.add(r, exc.reason, exc.column or name, data)
            continue
        prepared.append(Prepared(r, data, vals, key))

    for i in lookup_idx:
        col = columns[i]
        wanted = {V.scalar_text(p.values[i]) for p in prepared if p.values[i] is not None}
        if col.lookup.step != plan.name:  # another step's map: complete and committed before this step runs
            found = await ctx.cached_ids(session, col.lookup.job, col.lookup.map_name, wanted) if wanted else {}
        else:
            found = await session.lookup_ids(col.lookup.job, col.lookup.map_name, sorted(wanted)) if wanted else {}
        kept_rows = []
        for p in prepared:
            raw = p.values[i]
            try:
                if raw is None:
                    p.values[i] = col.convert(None)
                else:
                    tk = found.get(V.scalar_text(raw))
                    if tk is None and ctx.preview:  # not loaded yet: the run would map it when its parent loads
                        p.values[i] = f"new (source key {raw!r})"
                        kept_rows.append(p)
                        continue
                    if tk is None and col.lookup.on_missing == "reject":
                        raise RowError(
                            f"no IDMap entry for {col.lookup.map_name} key {raw!r} (step {col.lookup.step})", col.name
                        )
                    p.values[i] = col.convert(tk)
            except RowError as exc:
                rejects.add(p.src, exc.reason, exc.column or col.name, p.data)
                continue
            kept_rows.append(p)
        prepared = kept_rows
    return prepared


async def write(
    plan: StepPlan,
    ctx: RunContext,
    session: Session,
    rows: Sequence[Prepared],
    table: str,
    check_existing: bool = False,
) -> None:
    names = [c.name for c in plan.written]
    key = plan.step.idmap
    if not key:
        await session.write(table, names, [tuple(p.values) for p in rows], plan.conflict)
        return
    existing: dict[str, int] = {}
    if check_existing or plan.table not in ctx.fresh_maps:
        existing = await session.lookup_ids(ctx.job, plan.table, [p.key for p in rows if p.key is not None])
    update = [(existing[p.key], *p.values) for p in rows if p.key in existing]
    new = [p for p in rows if p.key not in existing]
    if update:  # IDMap Sync: a row loaded before is updated in place, never inserted twice
        await session.write(table, [key, *names], update, [key])
    ids = await session.insert_new(table, key, names, [tuple(p.values) for p in new])
    await session.put_ids(ctx.job, plan.table, [(p.key, i) for p, i in zip(new, ids, strict=True) if p.key])


async def _write_batch(
    plan: StepPlan, ctx: RunContext, session: Session, rows: list[Prepared], table: str, rejects: Rejects
) -> int:
    try:
        async with session.savepoint():
            await write(plan, ctx, session, rows, table)
        return len(rows)
    except RowError:
        pass
    written = 0
    for p in rows:  # find the rows the target refuses; keep the rest (a key twice in one batch: update)
        try:
            async with session.savepoint():
                await write(plan, ctx, session, [p], table, check_existing=True)
            written += 1
        except RowError as exc:
            rejects.add(p.src, exc.reason, exc.column, p.data)
    return written


def _check_budget(ctx: RunContext, rejects: Rejects) -> None:
    rejects.in_input_order()
    if rejects.records and ctx.rejected_total + len(rejects.records) > ctx.budget:
        total = ctx.rejected_total + len(rejects.records)
        raise BudgetExceeded(
            f"job {ctx.job}: error budget exceeded: {total} rows rejected, budget {ctx.budget}; "
            f"first in this batch: {rejects.message(0)}"
        )


_INTEGERS = frozenset({"smallint", "integer", "bigint"})


@dataclass(frozen=True)
class CopyThrough:
    """How a step streams PostgreSQL's binary COPY from source to target (see copy_through)."""

    plain: list[str]  # source columns copied as they are ...
    target_plain: list[str]  # ... into these target columns
    lookups: list[tuple[str, str, Lookup]]  # (source FK column, target column, the IDMap it goes through)
    key: str | None = None  # the target key an IDMap step fills from its sequence (None: plain append)
    source_key: str | None = None
    job: str = ""
    map_name: str = ""
    staged_types: list[str] = field(default_factory=list)  # staging column types: source_key, then staged

    @property
    def staged(self) -> list[str]:
        return self.plain + [source for source, _, _ in self.lookups]

    @property
    def target_columns(self) -> list[str]:
        return self.target_plain + [target for _, target, _ in self.lookups]

    @property
    def source_columns(self) -> list[str]:
        return ([self.source_key] if self.source_key else []) + self.staged


def copy_through(plan: StepPlan, ctx: RunContext) -> CopyThrough | None:
    """A CopyThrough when rows can move without becoming Python objects: PostgreSQL on both sides, no
    transform or deferred column, every column a plain `from` of the very same type, and either a plain
    append/replace, or an append into a fresh IDMap on one integer key whose foreign keys are integer lookups.
    Anything else (upserts, conversions, expressions, IDMap Sync of earlier rows) takes the row path."""
    step = plan.step
    if plan.source_info.dialect != "postgres" or plan.target_info.dialect != "postgres":
        return None
    if plan.row_fn or plan.batch_fn or plan.deferred or step.mode not in ("append", "replace"):
        return None
    mapped = step.idmap is not None
    if mapped and (plan.table not in ctx.fresh_maps or len(plan.source_key) != 1):
        return None
    plain, target_plain, lookups, types = [], [], [], []
    for column in plan.written:
        source = plan.source_info.column(column.source) if column.source else None
        if source is None:
            return None
        if column.lookup is not None:
            if not mapped or source.type not in _INTEGERS or column.target.type not in _INTEGERS:
                return None
            lookups.append((source.name, column.name, column.lookup))
        elif source.type == column.target.type:
            plain.append(source.name)
            target_plain.append(column.name)
            types.append(source.type)
        else:
            return None
    if not plain and not lookups:
        return None
    if not mapped:
        return None if lookups else CopyThrough(plain, target_plain, [])
    key = plan.source_info.column(plan.source_key[0])
    if key is None or key.type not in _INTEGERS:
        return None
    lookup_types = [plan.source_info.column(source).type for source, _, _ in lookups]  # type: ignore[union-attr]
    return CopyThrough(
        plain, target_plain, lookups, step.idmap, key.name, ctx.job, plan.table, [key.type, *types, *lookup_types]
    )


async def run_step_copy(plan: StepPlan, ctx: RunContext, table: str, copy: CopyThrough) -> StepCounts | None:
    """The main pass by binary COPY, batch by batch, each batch committed with its checkpoint as on the row
    path. Returns None when the target refuses a batch: the row path then resumes from the last checkpoint
    and rejects the offending rows one by one under the error budget."""
    target = ctx.targets[plan.step.target.connection]
    state = _state(await target.get_checkpoint(ctx.run_id, plan.name))
    counts = StepCounts(state["read"], state["written"], state["skipped"], state["rejected"], state="running")
    if state["done"]:
        counts.state = "succeeded"
        return counts
    started = time.monotonic()
    source: Any = plan.new_source()
    await source.open()
    try:
        await source.describe()
        after = state["position"]
        await ctx.log("info", f"step {plan.name}: binary COPY from source to target")
        async with source.snapshot():
            while True:
                if ctx.cancel.is_set():
                    raise Cancelled(f"run {ctx.run_id} cancelled during step {plan.name}")
                bound = await source.position_at(after, plan.batch_size - 1)
                end = bound if bound is not None else await source.last_position(after)
                if end is None:
                    break
                try:
                    async with target.session() as session:
                        if not isinstance(session, PostgresSession):
                            raise EtlError(f"job {ctx.job}, step {plan.name}: binary COPY needs a PostgreSQL target")
                        chunks = source.copy_out(copy.source_columns, after, plan.batch_size)
                        if copy.key is None:
                            moved = await session.copy_in(table, copy.target_columns, chunks)
                        else:
                            moved = await session.copy_in_mapped(table, copy, chunks)
                        state.update(position=end, read=counts.read + moved, written=counts.written + moved)
                        await session.put_checkpoint(ctx.run_id, ctx.job, plan.name, V.dumps(state))
                except CopyRefused as exc:
                    await ctx.log(
                        "info", f"step {plan.name}: the target refused a COPY batch ({exc}); continuing row by row"
                    )
                    return None
                counts.read, counts.written = state["read"], state["written"]
                counts.seconds = time.monotonic() - started
                await ctx.progress(plan.name, counts)
                if bound is None:
                    break
                after = bound
    finally:
        await source.close()
    return await _finish_step(plan, ctx, target, state, counts, started, None)


async def _finish_step(
    plan: StepPlan,
    ctx: RunContext,
    target: Target,
    state: dict[str, Any],
    counts: StepCounts,
    started: float,
    wm_col: str | None,
) -> StepCounts:
    async with target.session() as session:
        state["done"] = True
        if wm_col and state["wm"] is not None:
            await session.put_watermark(ctx.job, plan.name, V.dumps(state["wm"]))
        await session.put_checkpoint(ctx.run_id, ctx.job, plan.name, V.dumps(state))
    counts.seconds = time.monotonic() - started
    counts.state = "succeeded"
    await ctx.progress(plan.name, counts)
    return counts


async def run_step(plan: StepPlan, ctx: RunContext, table: str) -> StepCounts:
    """The main pass of a step into `table` (the target, or the new table of a replace)."""
    target = ctx.targets[plan.step.target.connection]
    state = _state(await target.get_checkpoint(ctx.run_id, plan.name))
    if state["done"]:
        return StepCounts(state["read"], state["written"], state["skipped"], state["rejected"], state="succeeded")
    if plan.step.idmap and state["position"] is None and not await target.has_ids(ctx.job, plan.table):
        ctx.fresh_maps.add(plan.table)
    copy = copy_through(plan, ctx)
    if copy is not None:
        copied = await run_step_copy(plan, ctx, table, copy)
        if copied is not None:
            return copied
        state = _state(await target.get_checkpoint(ctx.run_id, plan.name))  # after the batches COPY committed
    counts = StepCounts(state["read"], state["written"], state["skipped"], state["rejected"], state="running")
    since = None
    if plan.step.mode == "incremental":
        since = V.loads(await target.get_watermark(ctx.job, plan.name))
    if state["position"] is not None:
        await ctx.log(
            "info",
            f"step {plan.name}: resuming after position {state['position']!r} ({state['read']} rows read before)",
        )
    started = time.monotonic()
    wm_col = plan.step.watermark if plan.step.mode == "incremental" else None
    source = plan.new_source()
    await source.open()
    try:
        await source.describe()
        async with Prefetch(source.batches(plan.batch_size, after=state["position"], since=since)) as batches:
            async for batch in batches:
                if ctx.cancel.is_set():
                    raise Cancelled(f"run {ctx.run_id} cancelled during step {plan.name}")
                rejects = Rejects(ctx, plan.name)
                async with target.session() as session:
                    rows = await prepare(plan, ctx, batch, session, rejects, columns=plan.written, counts=counts)
                    written = await _write_batch(plan, ctx, session, rows, table, rejects) if rows else 0
                    _check_budget(ctx, rejects)
                    await session.put_rejects(rejects.records)
                    if wm_col:
                        seen = [r.data[wm_col] for r in batch if r.data and r.data.get(wm_col) is not None]
                        if seen:
                            top = max(seen)
                            state["wm"] = top if state["wm"] is None or top > state["wm"] else state["wm"]
                    state.update(
                        position=batch[-1].position,
                        read=counts.read + len(batch),
                        written=counts.written + written,
                        skipped=counts.skipped,
                        rejected=counts.rejected + len(rejects.records),
                    )
                    await session.put_checkpoint(ctx.run_id, ctx.job, plan.name, V.dumps(state))
                # committed: only now do the counters move
                counts.read, counts.written, counts.rejected = state["read"], state["written"], state["rejected"]
                ctx.rejected_total += len(rejects.records)
                for i in range(min(len(rejects.records), 3)):
                    await ctx.log("warning", f"rejected: {rejects.message(i)}")
                counts.seconds = time.monotonic() - started
                await ctx.progress(plan.name, counts)
    finally:
        await source.close()
    return await _finish_step(plan, ctx, target, state, counts, started, wm_col)


async def fill_deferred(plan: StepPlan, ctx: RunContext, table: str) -> int:
    """Second pass for cycle-breaking columns: now every IDMap is complete, set them by target key."""
    target = ctx.targets[plan.step.target.connection]
    name = f"{plan.name}#fill"
    state = _state(await target.get_checkpoint(ctx.run_id, name))
    if state["done"]:
        return int(state["written"])
    deferred = plan.deferred
    key_plan = next((c for c in plan.columns if c.name == plan.update_key), None)
    source = plan.new_source()
    await source.open()
    try:
        await source.describe()
        async with aclosing(source.batches(plan.batch_size, after=state["position"])) as batches:
            async for batch in batches:
                if ctx.cancel.is_set():
                    raise Cancelled(f"run {ctx.run_id} cancelled while filling step {plan.name}")
                rejects = Rejects(ctx, name)
                async with target.session() as session:
                    cols = deferred + ([key_plan] if key_plan else [])
                    rows = await prepare(plan, ctx, batch, session, rejects, columns=cols)
                    if plan.step.idmap:
                        ids = await session.lookup_ids(ctx.job, plan.table, [p.key for p in rows if p.key])
                        keyed = [(ids[p.key], p) for p in rows if p.key in ids]
                    else:
                        keyed = [(p.values[-1], p) for p in rows]
                    for i, col in enumerate(deferred):
                        pairs = [(k, p.values[i]) for k, p in keyed if p.values[i] is not None]
                        await session.update_column(table, plan.update_key or "", col.name, pairs)
                    _check_budget(ctx, rejects)
                    await session.put_rejects(rejects.records)
                    state.update(
                        position=batch[-1].position,
                        written=state["written"] + len(keyed),
                        rejected=state["rejected"] + len(rejects.records),
                    )
                    await session.put_checkpoint(ctx.run_id, ctx.job, name, V.dumps(state))
                ctx.rejected_total += len(rejects.records)
    finally:
        await source.close()
    async with target.session() as session:
        state["done"] = True
        await session.put_checkpoint(ctx.run_id, ctx.job, name, V.dumps(state))
    return int(state["written"])
