"""The counter storages: the same verdicts from memory and from the Redis script; honest; bounded."""

from __future__ import annotations

import pytest

from policies.throttle.storage import CounterStore
from policies.throttle.storage.base import ADD, CHECK, FIXED, HIT, MOVING, SLIDING, Limit
from policies.throttle.storage.memory import ThrottleMemoryStorage


@pytest.fixture
async def redis_store(redis_prefix):
    store = CounterStore("redis://127.0.0.1:6379/0")
    yield store, redis_prefix
    await store.aclose()


@pytest.fixture
async def memory_store():
    yield CounterStore("memory://"), "t"


@pytest.fixture(params=["memory_store", "redis_store"])
def any_store(request):
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("strategy", [FIXED, SLIDING, MOVING])
async def test_refusal_at_one_level_consumes_nothing_elsewhere(any_store, strategy):
    store, prefix = any_store
    wide = Limit("api", "wide", 10, 3600, strategy)
    narrow = Limit("subscription", "narrow", 3, 3600, strategy)
    both = [(f"{prefix}:w", wide, 1, HIT), (f"{prefix}:n", narrow, 1, HIT)]
    verdicts = [await store.hit_all(both) for _ in range(6)]
    assert [v[0] for v in verdicts] == [0, 0, 0, 2, 2, 2]  # the second limit refuses from the 4th request
    assert verdicts[2][2:] == [7, verdicts[2][3], 0, verdicts[2][5]]  # remaining after the 3rd: 7 and 0
    # the 3 refused requests did not count at the wide level: it still has 7 left
    alone = await store.hit_all([(f"{prefix}:w", wide, 1, HIT)])
    assert alone[0] == 0 and alone[2] == 6
    assert 0 < verdicts[3][1] <= 3600_000  # retry_ms


async def test_check_then_add_for_bandwidth(any_store):
    store, prefix = any_store
    quota = Limit("bandwidth", "bw", 1000, 3600, FIXED)
    key = f"{prefix}:bw"
    assert (await store.hit_all([(key, quota, 1, CHECK)]))[0] == 0
    await store.hit_all([(key, quota, 999, ADD)])
    assert (await store.hit_all([(key, quota, 1, CHECK)]))[0] == 0  # 1 byte left
    await store.hit_all([(key, quota, 5000, ADD)])  # a response may overshoot; the next request pays
    assert (await store.hit_all([(key, quota, 1, CHECK)]))[0] == 1


def test_memory_is_bounded_under_a_flood_of_distinct_keys():
    storage = ThrottleMemoryStorage(max_keys=1000)
    limit = Limit("global", "per-ip", 5, 3600, FIXED)
    for i in range(50_000):
        storage.hit_all([(f"ip:{i}", limit, 1, HIT)])
        assert len(storage) <= 1000
    assert storage.evicted > 0
    # recent keys are kept: the latest client still has its count
    assert storage.hit_all([("ip:49999", limit, 1, HIT)])[2] == 3


def test_memory_expired_windows_are_swept():
    now = [1000.0]
    storage = ThrottleMemoryStorage(max_keys=100, clock=lambda: now[0])
    limit = Limit("global", "per-ip", 5, 1, FIXED)
    for i in range(100):
        storage.hit_all([(f"a:{i}", limit, 1, HIT)])
    now[0] += 5
    storage.hit_all([("b", limit, 1, HIT)])
    assert len(storage) == 1 and storage.evicted == 0  # only expired keys were dropped


async def test_memory_counts_one_tick_of_requests_together_in_arrival_order():
    """Requests of one event-loop tick are counted by one callback, in the order they came, exactly."""
    import asyncio

    storage = ThrottleMemoryStorage()
    limit = Limit("subscription", "five", 5, 3600, FIXED)
    verdicts = await asyncio.gather(*(storage.hit_all_in_tick([("k", limit, 1, HIT)]) for _ in range(8)))
    assert [v[0] for v in verdicts] == [0, 0, 0, 0, 0, 1, 1, 1]
    assert [v[2] for v in verdicts[:5]] == [4, 3, 2, 1, 0]
    assert storage.hit_all([("k", limit, 1, CHECK)])[0] == 1  # refused requests counted nothing


async def test_memory_tick_batch_skips_cancelled_requests_and_hands_errors_over():
    import asyncio

    storage = ThrottleMemoryStorage()
    limit = Limit("subscription", "two", 2, 3600, FIXED)
    gone = asyncio.ensure_future(storage.hit_all_in_tick([("k", limit, 1, HIT)]))
    await asyncio.sleep(0)  # queued, not yet counted
    gone.cancel()
    kept = await storage.hit_all_in_tick([("k", limit, 1, HIT)])
    assert kept[2] == 1  # the cancelled request was not counted

    bad = storage.hit_all_in_tick([("malformed",)])  # type: ignore[list-item] - hit_all raises on it
    good = storage.hit_all_in_tick([("k", limit, 1, HIT)])
    results = await asyncio.gather(bad, good, return_exceptions=True)
    assert isinstance(results[0], Exception) and results[1][0] == 0
