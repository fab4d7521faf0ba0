"""Step ordering: parents first, nullable cycles deferred, NOT NULL cycles refused with the path."""

from __future__ import annotations

import pytest

from gateway.etl.errors import CycleError, PlanError
from gateway.etl.planner import Edge, order_steps


def test_parents_first_and_stable() -> None:
    edges = [
        Edge("comments", "complaints", "complaint_id", False),
        Edge("complaints", "reporters", "r", False),
        Edge("complaints", "categories", "c", False),
    ]
    order = order_steps("j", ["comments", "complaints", "categories", "reporters"], edges, explicit=False)
    assert order.steps == ("categories", "reporters", "complaints", "comments")
    assert order.deferred == ()


def test_nullable_cycle_is_deferred() -> None:
    edges = [Edge("a", "b", "b_id", True), Edge("b", "a", "a_id", False), Edge("c", "c", "parent_id", True)]
    order = order_steps("j", ["a", "b", "c"], edges, explicit=False)
    assert order.steps == ("a", "b", "c")
    assert set(order.deferred) == {Edge("a", "b", "b_id", True), Edge("c", "c", "parent_id", True)}


def test_not_null_cycle_is_refused() -> None:
    edges = [Edge("a", "b", "b_id", False), Edge("b", "a", "a_id", False)]
    with pytest.raises(CycleError) as info:
        order_steps("j", ["a", "b"], edges, explicit=False)
    assert str(info.value) == (
        "job j: steps a -> b -> a form a foreign-key cycle through NOT NULL columns (a.b_id, "
        "b.a_id); make one of them nullable so it can be filled after the load, or split the "
        "step"
    )


def test_not_null_self_reference_is_refused() -> None:
    with pytest.raises(CycleError, match=r"steps t -> t form a foreign-key cycle through NOT NULL columns \(t.p\)"):
        order_steps("j", ["t"], [Edge("t", "t", "p", False)], explicit=False)


def test_explicit_order_is_kept_but_checked() -> None:
    edges = [Edge("child", "parent", "parent_id", False)]
    assert order_steps("j", ["parent", "child"], edges, explicit=True).steps == ("parent", "child")
    with pytest.raises(PlanError) as info:
        order_steps("j", ["child", "parent"], edges, explicit=True)
    assert str(info.value) == (
        "job j, step child: column parent_id needs step parent first, but order is explicit "
        "and lists it later; move it up or use order: dependencies"
    )
