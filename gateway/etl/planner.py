"""Order a job's steps: parents before children by foreign keys and IDMap lookups, or as written.

A cycle is broken by deferring its nullable foreign-key columns: they load as NULL and are filled once
every step has run (and the IDMap is complete). A cycle left after that runs only through NOT NULL
columns and is refused, naming the steps and columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CycleError, PlanError


@dataclass(frozen=True)
class Edge:
    child: str  # step that must run after `parent`
    parent: str
    column: str  # the child's target column that points at the parent
    nullable: bool


@dataclass(frozen=True)
class Order:
    steps: tuple[str, ...]
    deferred: tuple[Edge, ...]  # (child step, column) pairs loaded NULL and filled at the end


def _cycle(nodes: list[str], edges: list[Edge]) -> list[str] | None:
    """One cycle as a list of step names, or None."""
    graph: dict[str, list[str]] = {n: [] for n in nodes}
    for e in edges:
        graph[e.child].append(e.parent)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in graph[n]:
            if state.get(m) == 1:
                return stack[stack.index(m) :] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        state[n] = 2
        stack.pop()
        return None

    for n in nodes:
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def _sccs(nodes: list[str], edges: list[Edge]) -> list[set[str]]:
    """Strongly connected components that contain a cycle (Tarjan, iterative enough for job sizes)."""
    graph: dict[str, list[str]] = {n: [] for n in nodes}
    for e in edges:
        graph[e.child].append(e.parent)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    out: list[set[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                out.append(comp)

    for n in nodes:
        if n not in index:
            strong(n)
    return out


def order_steps(job: str, names: list[str], edges: list[Edge], explicit: bool) -> Order:
    in_cycle = _sccs(names, edges)
    deferred = [e for e in edges if e.nullable and any(e.child in c and e.parent in c for c in in_cycle)]
    kept = [e for e in edges if e not in deferred]
    cycle = _cycle(names, kept)
    if cycle:
        cols = [
            f"{e.child}.{e.column}"
            for e in kept
            if e.child in cycle
            and e.parent in cycle
            and cycle.index(e.child) + 1 < len(cycle)
            and cycle[cycle.index(e.child) + 1] == e.parent
        ]
        raise CycleError(
            job,
            None,
            f"steps {' -> '.join(cycle)} form a foreign-key cycle through NOT NULL "
            f"columns ({', '.join(cols)}); make one of them nullable so it can be filled after the "
            "load, or split the step",
        )
    if explicit:
        pos = {n: i for i, n in enumerate(names)}
        for e in kept:
            if e.child != e.parent and pos[e.parent] > pos[e.child]:
                raise PlanError(
                    job,
                    e.child,
                    f"column {e.column} needs step {e.parent} first, but order is "
                    "explicit and lists it later; move it up or use order: dependencies",
                )
        return Order(tuple(names), tuple(deferred))
    done: list[str] = []
    remaining = list(names)
    while remaining:  # stable: among ready steps, the one written first goes first
        for n in remaining:
            if all(e.parent in done or e.parent == n for e in kept if e.child == n):
                done.append(n)
                remaining.remove(n)
                break
    return Order(tuple(done), tuple(deferred))
