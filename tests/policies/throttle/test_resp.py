"""The lean RESP2 transport of the Redis counter storage, against real redis-server processes.

Pipelined calls get their own replies in order; a flushed script cache is recovered with EVAL; a server
killed or frozen mid-flight fails the pending calls promptly and the throttle falls back; both readers
(hiredis and pure Python) parse the same bytes.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from policies.throttle.storage import CounterStore, StoreUnavailable, resp
from policies.throttle.storage.base import FIXED, HIT, Limit
from policies.throttle.storage.resp import RedisClient, ReplyError, command
from tests.policies.throttle.conftest import redis_server
from tests.servers import free_port


@pytest.fixture(params=["hiredis", "python"])
def reader(request, monkeypatch):
    """Runs the test with each reader: hiredis' when installed, and the pure-Python one."""
    if request.param == "hiredis":
        if resp._HiredisReader is None:
            pytest.skip("hiredis is not installed")
    else:
        monkeypatch.setattr(resp, "_HiredisReader", None)
    return request.param


async def test_pipelined_concurrent_calls_get_their_own_replies_in_order(reader, redis_prefix):
    client = RedisClient("redis://127.0.0.1:6379/0")
    try:
        replies = await asyncio.gather(*(client.execute(command(b"ECHO", b"%d" % i * (i % 7))) for i in range(500)))
        assert replies == [b"%d" % i * (i % 7) for i in range(500)]
        assert len(client.connection.waiting) == 0  # type: ignore[union-attr]
        key = f"splp:{redis_prefix}:n".encode()
        counted = await asyncio.gather(*(client.execute(command(b"INCR", key)) for _ in range(300)))
        assert counted == list(range(1, 301))  # written in call order, answered in order
        with pytest.raises(ReplyError, match="WRONGTYPE|ERR"):
            await client.execute(command(b"LPUSH", key, b"x"))
        assert await client.ping()  # an error reply leaves the connection usable
    finally:
        client.close()


async def test_concurrent_requests_through_the_storage_count_exactly(reader, redis_prefix):
    store = CounterStore("redis://127.0.0.1:6379/0")
    limits = [Limit("api", f"l{i}", 50 + i, 3600, FIXED) for i in range(5)]
    try:
        # 5 callers x 40 requests, all in flight at once: several EVALSHAs pipelined, each split over its requests
        calls = [[(f"{redis_prefix}:c{i}", limits[i], 1, HIT)] for i in range(5) for _ in range(40)]
        verdicts = await asyncio.gather(*(store.hit_all(hits) for hits in calls))
        for i in range(5):
            remaining = sorted((v[2] for v, hits in zip(verdicts, calls, strict=True) if hits[0][1] is limits[i]))
            assert remaining == list(range(50 + i - 40, 50 + i))  # every request saw its own count
    finally:
        await store.aclose()


async def test_noscript_after_script_flush_is_recovered_with_eval(reader):
    port = free_port()
    with redis_server(port):
        store = CounterStore(f"redis://127.0.0.1:{port}/0")
        admin = RedisClient(f"redis://127.0.0.1:{port}/0")
        limit = Limit("api", "x", 100, 3600, FIXED)
        try:
            assert (await store.hit_all([("k", limit, 1, HIT)]))[2] == 99  # fresh server: NOSCRIPT, then EVAL
            assert await admin.execute(command(b"SCRIPT", b"FLUSH")) == b"OK"
            # several EVALSHAs in flight meet the empty cache: each is resent as EVAL, in order
            verdicts = await asyncio.gather(*(store.hit_all([("k", limit, 1, HIT)]) for _ in range(20)))
            assert sorted(v[2] for v in verdicts) == list(range(79, 99))
            assert store.stats["redis_errors"] == 0
        finally:
            await store.aclose()
            admin.close()


async def test_server_killed_mid_flight_fails_pending_calls_at_once_and_the_throttle_falls_back(reader):
    port = free_port()
    store = CounterStore(f"redis://127.0.0.1:{port}/0", timeout=10.0)  # a long timeout: only the loss can fail
    limit = Limit("api", "x", 100, 3600, FIXED)
    try:
        with redis_server(port) as server:
            admin = RedisClient(f"redis://127.0.0.1:{port}/0")
            assert (await store.hit_all([("k", limit, 1, HIT)]))[0] == 0
            await admin.execute(command(b"CLIENT", b"PAUSE", b"5000", b"ALL"))  # replies are held from now on
            admin.close()
            pending = [asyncio.ensure_future(store.hit_all([("k", limit, 1, HIT)])) for _ in range(10)]
            await asyncio.sleep(0.2)
            assert not any(p.done() for p in pending)
            started = time.monotonic()
            server.kill()
            results = await asyncio.gather(*pending, return_exceptions=True)
            assert time.monotonic() - started < 1.0
            assert all(isinstance(r, StoreUnavailable) for r in results), results
        assert store.down and store.stats["outages"] == 1
        # the circuit is open: answered at once, by the policy's fallback
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.hit_all([("k", limit, 1, HIT)])
        assert time.monotonic() - started < 0.05
        with redis_server(port):
            await asyncio.sleep(store.retry_interval + 0.05)
            assert (await store.hit_all([("k", limit, 1, HIT)]))[2] == 99  # new empty server, counting resumes
            assert not store.down and store.stats["recoveries"] == 1
    finally:
        await store.aclose()


async def test_unanswered_calls_time_out_and_the_connection_is_replaced(reader):
    port = free_port()
    with redis_server(port):
        client = RedisClient(f"redis://127.0.0.1:{port}/0", timeout=0.3)
        admin = RedisClient(f"redis://127.0.0.1:{port}/0")
        try:
            assert await client.ping()
            await admin.execute(command(b"CLIENT", b"PAUSE", b"1000", b"ALL"))
            started = time.monotonic()
            results = await asyncio.gather(*(client.ping() for _ in range(5)), return_exceptions=True)
            assert all(isinstance(r, TimeoutError) for r in results), results
            assert 0.25 < time.monotonic() - started < 0.8
            await asyncio.sleep(0.8)  # the pause ends; the next call opens a new connection
            assert await client.ping()
        finally:
            client.close()
            admin.close()


async def test_unreachable_server_fails_fast_and_backs_off():
    client = RedisClient(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    with pytest.raises(OSError):
        await client.ping()
    started = time.monotonic()
    with pytest.raises(ConnectionError, match="backoff"):
        await client.ping()  # within the backoff: no connect attempt
    assert time.monotonic() - started < 0.01
    await asyncio.sleep(resp.MAX_BACKOFF)
    with pytest.raises(OSError):
        await client.ping()  # tried again (and refused again)


async def test_password_and_database_from_the_uri():
    port = free_port()
    with redis_server(port, "--requirepass", "s3cret"):
        store = CounterStore(f"redis://:s3cret@127.0.0.1:{port}/3")
        admin = RedisClient(f"redis://:s3cret@127.0.0.1:{port}/3")
        try:
            assert await store.check_ready() is None
            await store.hit_all([("k", Limit("api", "x", 10, 3600, FIXED), 1, HIT)])
            assert await admin.execute(command(b"DBSIZE")) == 1  # counted in database 3
            assert await admin.execute(command(b"SELECT", b"0")) == b"OK"
            assert await admin.execute(command(b"DBSIZE")) == 0
            wrong = CounterStore(f"redis://:wrong@127.0.0.1:{port}/0")
            assert "unreachable" in (await wrong.check_ready() or "")
            await wrong.aclose()
        finally:
            await store.aclose()
            admin.close()


def test_python_reader_parses_replies_split_anywhere():
    data = b"*2\r\n*3\r\n:0\r\n:-1\r\n$3\r\nabc\r\n*0\r\n+PONG\r\n-NOSCRIPT No matching script\r\n$-1\r\n*-1\r\n:42\r\n"
    expected = [[[0, -1, b"abc"], []], b"PONG", "NOSCRIPT No matching script", None, None, 42]
    for size in (1, 2, 3, 7, len(data)):
        reader = resp.Reader()
        replies = []
        for i in range(0, len(data), size):
            reader.feed(data[i : i + size])
            while (reply := reader.gets()) is not False:
                replies.append(str(reply) if isinstance(reply, ReplyError) else reply)
        assert replies == expected, size
