"""The HTTP edge through the whole gateway: raw-socket clients, split reads, real backends, both clients.

What the backend sees (trailers, Connection-listed fields, underscores), slow bodies (408, never a backend
failure), timeouts after retries, cut responses (one warning), and errors that never name a backend.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from tests.gateway import test_proxy
from tests.gateway.conftest import api, running_gateway
from tests.gateway.server.test_protocol import Response, read_response
from tests.servers import EchoUpstream, serve

write_config = test_proxy.write_config  # the fixture: every test here runs on both upstream clients

pytestmark = pytest.mark.timeout(30)


async def raw_exchange(base: str, reads: list[bytes], pause: float = 0.02) -> Response:
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        for piece in reads:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(pause)
        return await read_response(reader)
    finally:
        writer.close()


def backend_headers(response: Response) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for name, value in orjson.loads(response.body)["headers"]:
        seen.setdefault(name, []).append(value)
    return seen


@pytest.mark.parametrize("split", [False, True], ids=["one-read", "split-reads"])
async def test_trailer_host_changes_nothing_the_backend_sees(write_config, split: bool):
    head = b"POST /svc/v1/echo HTTP/1.1\r\nHost: client.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    body = b"4\r\ndata\r\n0\r\nHost: evil.test\r\nX-Forwarded-Host: evil.test\r\nX-Trailer: 1\r\n\r\n"
    raw = head + body
    at = [len(head) + 14, raw.index(b"st: evil"), raw.index(b"orwarded"), raw.index(b"ailer")]
    reads = [raw[i:j] for i, j in zip([0, *at], [*at, len(raw)], strict=True)] if split else [raw]
    async with serve(EchoUpstream()) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"])])
        async with running_gateway(path) as (base, _):
            response = await raw_exchange(base, reads)
    assert response.status == 200
    seen = backend_headers(response)
    assert seen["host"] == [f"127.0.0.1:{port}"]
    assert seen["x-forwarded-host"] == ["client.test"]
    assert "host=client.test" in seen["forwarded"][0]
    assert "x-trailer" not in seen and orjson.loads(response.body)["size"] == 4


async def test_connection_cannot_remove_what_policies_add(write_config):
    policies = [{"headers": {"request": {"set": {"X-Gateway-Tag": "from-policy"}}}}]
    raw = (
        b"GET /svc/v1/echo HTTP/1.1\r\nHost: client.test\r\nX-Client: mine\r\n"
        b"Connection: close, X-Gateway-Tag, X-Client\r\nX-Gateway-Tag: forged\r\n\r\n"
    )
    async with serve(EchoUpstream()) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"], policies=policies)])
        async with running_gateway(path) as (base, _):
            response = await raw_exchange(base, [raw[:60], raw[60:]])
    seen = backend_headers(response)
    assert seen["x-gateway-tag"] == ["from-policy"]  # the policy's, kept; the client's forged one, gone
    assert "x-client" not in seen


@pytest.mark.parametrize("mode", [None, "reject"])
async def test_underscore_header_names(write_config, mode: str | None):
    raw = b"GET /svc/v1/echo HTTP/1.1\r\nHost: a\r\nX_Auth_User: admin\r\nConnection: close\r\n\r\n"
    limits = {"limits": {"underscore_headers": mode}} if mode else {}
    async with serve(EchoUpstream()) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"])], gateway=limits)
        async with running_gateway(path) as (base, _):
            response = await raw_exchange(base, [raw])
    if mode == "reject":
        assert response.status == 400 and response.json()["code"] == 800441
    else:
        assert response.status == 200 and "x_auth_user" not in backend_headers(response)


async def slow_post(base: str, context: str, seconds: float, step: float = 0.35) -> Response:
    """A POST whose 1-byte chunks trickle in every `step` seconds for `seconds` (never idle for long).

    The limits below put every cut-off between two writes: a write after the gateway closed would make
    its kernel answer with a reset, which can discard the 408 before this client reads it."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"POST %s/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" % context.encode())
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            try:
                writer.write(b"1\r\nx\r\n")
                await writer.drain()
            except ConnectionError:
                break  # cut off: the answer is waiting
            await asyncio.sleep(step)
            if reader.at_eof() or len(reader._buffer):  # noqa: SLF001 - the gateway answered early
                break
        else:
            writer.write(b"0\r\n\r\n")
        return await read_response(reader)
    finally:
        writer.close()


SLOW_LIMITS: dict[str, Any] = {"limits": {"body_timeout": "1s", "body_deadline": "1200ms", "body_min_rate": 0}}
SHORT_TIMEOUTS = {"timeouts": {"connect": "1s", "read": "850ms", "total": "850ms"}}


async def test_three_slow_clients_never_suspend_a_healthy_backend(write_config, caplog):
    upstream = EchoUpstream()
    async with serve(upstream) as port:
        backend = {**SHORT_TIMEOUTS, "health": {"max_failures": 3, "cooldown": "60s"}}
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"], backend=backend)], gateway=SLOW_LIMITS)
        async with running_gateway(path) as (base, _):
            slow = await asyncio.gather(*(slow_post(base, "/svc/v1", 3.0) for _ in range(3)))
            healthy = await raw_exchange(base, [b"GET /svc/v1/echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"])
    for response in slow:
        problem = response.json()
        assert response.status == 408 and problem["code"] == 800408, problem
        assert "backend" not in problem["detail"]
    assert healthy.status == 200  # not suspended: the slow clients were no backend failure
    assert not [r for r in caplog.records if r.name == "splp.proxy" and r.levelno >= logging.WARNING]
    assert all(not record["complete"] for record in upstream.requests[:3])  # each upstream request was reset


async def test_body_deadline_off_for_one_api(write_config):
    """An API may turn the deadline off (media uploads): only the idle timeout applies to it."""
    async with serve(EchoUpstream()) as port:
        apis = [api("media", [f"http://127.0.0.1:{port}"], body_deadline=0), api("svc", [f"http://127.0.0.1:{port}"])]
        path = write_config(apis, gateway=SLOW_LIMITS)
        async with running_gateway(path) as (base, _):
            media, svc = await asyncio.gather(slow_post(base, "/media/v1", 1.8), slow_post(base, "/svc/v1", 1.8))
    assert media.status == 200 and orjson.loads(media.body)["size"] >= 6
    assert svc.status == 408


async def test_steady_upload_passes_the_rate_rule(write_config):
    """With a minimum rate, a body that keeps up is never cut, however long it takes."""
    limits = {"limits": {"body_timeout": "1s", "body_deadline": "500ms", "body_min_rate": 2}}
    async with serve(EchoUpstream()) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"])], gateway=limits)
        async with running_gateway(path) as (base, _):
            response = await slow_post(base, "/svc/v1", 1.5, step=0.2)  # 5 B/s, over a 2 B/s floor
    assert response.status == 200


async def test_read_timeout_after_a_retry_is_504_with_its_cause(write_config):
    async with serve(EchoUpstream()) as port:
        backend = {"timeouts": {"connect": "1s", "read": "300ms", "total": "2s"}, "retries": 1}
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"], backend=backend)])
        async with running_gateway(path) as (base, _):
            response = await raw_exchange(
                base, [b"GET /svc/v1/slow/1500 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"]
            )
    problem = response.json()
    assert response.status == 504 and problem["code"] == 101504
    assert "0.3 s" in problem["detail"] and "127.0.0.1" not in problem["detail"]


async def test_cut_response_is_one_warning_without_traceback(write_config, caplog):
    async with serve(EchoUpstream()) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"])])
        async with running_gateway(path) as (base, _):
            host, gw_port = base.removeprefix("http://").split(":")
            reader, writer = await asyncio.open_connection(host, int(gw_port))
            writer.write(b"GET /svc/v1/cut/200000 HTTP/1.1\r\nHost: a\r\n\r\n")
            data = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            await asyncio.sleep(0.1)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and len(body) < 200000  # short: never taken for complete
    ours = [r for r in caplog.records if r.levelno >= logging.WARNING and not r.name.startswith("tests")]
    assert len(ours) == 1, [r.getMessage() for r in ours]
    (record,) = ours
    assert record.name == "splp.proxy" and record.exc_info is None
    message = record.getMessage()
    assert "API svc (/svc/v1)" in message and f"http://127.0.0.1:{port}" in message and "cut its response" in message


async def test_unknown_builtin_path_is_problem_json_with_request_id(write_config):
    async with serve(EchoUpstream()) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"])])
        async with running_gateway(path) as (base, _):
            response = await raw_exchange(base, [b"GET /_nothing HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"])
    problem = response.json()
    assert response.status == 404 and problem["code"] == 900906
    assert problem["request_id"] == response.headers[b"x-request-id"].decode() and len(problem["request_id"]) == 32
