"""LeanClient's pool: LIFO reuse, limit_per_host, limit, waiting bounded by the connect timeout."""

from __future__ import annotations

import asyncio

import pytest

from gateway.upstream.base import Timeouts
from gateway.upstream.errors import UpstreamTimeout
from gateway.upstream.lean import LeanClient

from .conftest import Backend, BackendStats, backend_app, endpoint, read_all, request


async def fetch(lean: LeanClient, *args, **kwargs) -> bytes:  # type: ignore[no-untyped-def]
    response = await lean.send(request(*args, **kwargs))
    try:
        return await read_all(response)
    finally:
        await response.release()


async def test_lifo_reuse(client: LeanClient, backend: Backend) -> None:
    first = await client.send(request(backend.endpoint, target=b"/peer"))
    second = await client.send(request(backend.endpoint, target=b"/peer"))
    ports = [await read_all(first), await read_all(second)]
    assert ports[0] != ports[1]
    await first.release()
    await second.release()  # released last: reused first
    assert await fetch(client, backend.endpoint, target=b"/peer") == ports[1]
    assert await fetch(client, backend.endpoint, target=b"/peer") == ports[1]


async def test_limit_per_host(backend: Backend) -> None:
    lean = LeanClient(limit_per_host=2)
    try:
        results = await asyncio.gather(*(fetch(lean, backend.endpoint, target=b"/slow?delay=0.1") for _ in range(6)))
        assert results == [b"late"] * 6
        assert backend.stats.max_active == 2
        assert len(backend.stats.peers) == 2
    finally:
        await lean.aclose()


async def test_total_limit_across_hosts(start_app) -> None:  # type: ignore[no-untyped-def]
    stats = BackendStats()  # shared: max_active counts both backends together
    a = endpoint(await start_app(backend_app(stats)))
    b = endpoint(await start_app(backend_app(stats)))
    lean = LeanClient(limit=2, limit_per_host=2)
    try:
        jobs = [fetch(lean, ep, target=b"/slow?delay=0.1") for ep in (a, b, a, b, a, b)]
        assert await asyncio.gather(*jobs) == [b"late"] * 6
        assert stats.max_active == 2
        assert lean._total <= 2
    finally:
        await lean.aclose()


async def test_idle_connection_of_another_host_is_evicted(start_app) -> None:  # type: ignore[no-untyped-def]
    stats = BackendStats()
    a = endpoint(await start_app(backend_app(stats)))
    b = endpoint(await start_app(backend_app(stats)))
    lean = LeanClient(limit=1)
    try:
        assert await fetch(lean, a) == b"hello"
        assert await fetch(lean, b) == b"hello"  # a's idle connection made room
        assert lean._total == 1
        assert list(lean._open) == [(b.host, b.port, None)]  # (host, port, TLS context)
    finally:
        await lean.aclose()


async def test_waiting_for_a_slot_is_bounded_by_connect_timeout(backend: Backend) -> None:
    lean = LeanClient(limit_per_host=1)
    try:
        held = await lean.send(request(backend.endpoint))
        with pytest.raises(UpstreamTimeout) as caught:
            await lean.send(request(backend.endpoint, timeouts=Timeouts(connect=0.1, read=5, total=5)))
        assert caught.value.phase == "connect"
        assert not lean._waiters
        await read_all(held)
        await held.release()
        assert await fetch(lean, backend.endpoint) == b"hello"
        assert len(backend.stats.peers) == 1
    finally:
        await lean.aclose()


async def test_released_connection_goes_to_the_waiter(backend: Backend) -> None:
    lean = LeanClient(limit_per_host=1)
    try:
        held = await lean.send(request(backend.endpoint, target=b"/peer"))
        waiting = asyncio.create_task(fetch(lean, backend.endpoint, target=b"/peer"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        port = await read_all(held)
        await held.release()
        assert await waiting == port  # the same connection, handed over
        assert len(backend.stats.peers) == 1
    finally:
        await lean.aclose()


async def test_closed_connection_frees_a_slot_for_the_waiter(backend: Backend) -> None:
    lean = LeanClient(limit_per_host=1)
    try:
        held = await lean.send(request(backend.endpoint, target=b"/stream?size=1000000"))
        waiting = asyncio.create_task(fetch(lean, backend.endpoint))
        await asyncio.sleep(0.05)
        await held.release()  # body unread: closed, the slot goes to the waiter
        assert await waiting == b"hello"
        assert len(backend.stats.peers) == 2
    finally:
        await lean.aclose()


async def test_cancelled_waiter_leaves_no_trace(backend: Backend) -> None:
    lean = LeanClient(limit_per_host=1)
    try:
        held = await lean.send(request(backend.endpoint))
        waiting = asyncio.create_task(fetch(lean, backend.endpoint))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert not lean._waiters
        await read_all(held)
        await held.release()
        assert lean._total == 1
        assert await fetch(lean, backend.endpoint) == b"hello"
    finally:
        await lean.aclose()


async def test_many_concurrent_requests_settle(backend: Backend) -> None:
    lean = LeanClient(limit=8, limit_per_host=8)
    try:
        results = await asyncio.gather(*(fetch(lean, backend.endpoint) for _ in range(300)))
        assert results == [b"hello"] * 300
        assert lean._total == len(backend.stats.peers) <= 8
        assert sum(len(stack) for stack in lean._idle.values()) == lean._total
    finally:
        await lean.aclose()
