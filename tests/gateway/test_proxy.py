"""The proxy end to end: a real gateway (uvicorn + hardened protocol) in front of real backends."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import orjson
import pytest

from tests.gateway.conftest import api, running_gateway
from tests.servers import EchoUpstream, free_port, serve


@pytest.fixture(params=["lean", "aiohttp"])
def write_config(request, write_config):
    """Every proxy test runs against both upstream clients: they must behave the same."""

    def write(apis, **sections):
        return write_config(apis, upstream={"client": request.param}, **sections)

    return write


@contextlib.asynccontextmanager
async def session() -> aiohttp.ClientSession:
    async with aiohttp.ClientSession(auto_decompress=False) as client:
        yield client


async def test_get_is_forwarded_with_clean_headers(write_config):
    upstream = EchoUpstream()
    async with serve(upstream) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}/base"])])
        async with running_gateway(path) as (base, _), session() as client:
            response = await client.get(
                f"{base}/svc/v1/items/7?q=1",
                headers={
                    "Connection": "keep-alive, X-Secret",
                    "X-Secret": "hop",
                    "Keep-Alive": "timeout=5",
                    "X-Request-ID": "abc-123",
                    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                    "X-Forwarded-For": "10.9.8.7",
                },
            )
            assert response.status == 200
            seen = orjson.loads(await response.read())
            # hop-by-hop and Connection-listed headers from the backend do not reach the client
            assert "x-hop" not in response.headers and "keep-alive" not in response.headers
            assert response.headers["x-request-id"] == "abc-123"
    headers = {k: v for k, v in seen["headers"]}
    assert seen["raw_path"] == "/base/items/7" and seen["query"] == "q=1"
    assert "x-secret" not in headers and "keep-alive" not in headers and "connection" not in headers
    assert headers["host"] == f"127.0.0.1:{port}"
    assert headers["x-request-id"] == "abc-123"
    assert headers["traceparent"].startswith("00-0af7651916cd43dd")
    assert headers["x-forwarded-for"] == "10.9.8.7, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["forwarded"].startswith("for=127.0.0.1;proto=http;host=127.0.0.1:")


async def test_request_id_is_created_when_missing_or_invalid(write_config):
    async with serve(EchoUpstream()) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"])])
        async with running_gateway(path) as (base, _), session() as client:
            response = await client.get(f"{base}/svc/v1/x", headers={"X-Request-ID": "bad id with spaces"})
            seen = orjson.loads(await response.read())
    created = response.headers["x-request-id"]
    assert len(created) == 32 and created != "bad id with spaces"
    assert dict(seen["headers"])["x-request-id"] == created


async def test_404_and_405_are_problem_json(write_config):
    async with serve(EchoUpstream()) as port:
        path = write_config(
            [api("svc", [f"http://127.0.0.1:{port}"], resources=["GET /pegawai/{nip}", "POST /pegawai"])]
        )
        async with running_gateway(path) as (base, _), session() as client:
            no_api = await client.get(f"{base}/other/v1/x")
            no_resource = await client.get(f"{base}/svc/v1/nothing")
            wrong_method = await client.delete(f"{base}/svc/v1/pegawai/123")
            ok = await client.get(f"{base}/svc/v1/pegawai/123")
            bodies = [orjson.loads(await r.read()) for r in (no_api, no_resource, wrong_method)]
    assert (no_api.status, no_resource.status, wrong_method.status, ok.status) == (404, 404, 405, 200)
    assert no_api.headers["content-type"] == "application/problem+json"
    assert bodies[0]["code"] == 900906 and bodies[0]["request_id"] == no_api.headers["x-request-id"]
    assert bodies[2]["status"] == 405 and wrong_method.headers["allow"] == "GET, HEAD"
    assert set(bodies[1]) >= {"type", "title", "status", "detail", "code", "request_id"}


@pytest.mark.parametrize(
    "raw", ["/svc/v1/..%2f..%2fadmin", "/svc/v1/a/../../admin", "/svc/v1/%2e%2e/x", "/svc/v1/a%5cb"]
)
async def test_traversal_never_reaches_another_api(write_config, raw):
    async with serve(EchoUpstream()) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"]), api("admin", [f"http://127.0.0.1:{port}"])])
        async with running_gateway(path) as (base, _):
            reader, writer = await asyncio.open_connection("127.0.0.1", int(base.rsplit(":", 1)[1]))
            writer.write(f"GET {raw} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data = await reader.read()
            writer.close()
    assert data.startswith(b"HTTP/1.1 400"), data[:200]
    assert b"invalid-path" in data


async def test_failover_to_next_endpoint_and_passive_health(write_config):
    dead = f"http://127.0.0.1:{free_port()}"
    upstream = EchoUpstream("alive")
    async with serve(upstream) as port:
        path = write_config(
            [api("svc", [dead, f"http://127.0.0.1:{port}"], backend={"health": {"max_failures": 1, "cooldown": "30s"}})]
        )
        async with running_gateway(path) as (base, _), session() as client:
            statuses = []
            for _ in range(6):
                response = await client.post(f"{base}/svc/v1/echo", data=b"payload")
                statuses.append(response.status)
                await response.read()
    assert statuses == [200] * 6
    # after its first failure the dead endpoint is suspended: every request reached the live one
    assert len(upstream.requests) == 6 and all(r["sha256"] for r in upstream.requests)


async def test_all_endpoints_down(write_config, caplog):
    dead = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
    path = write_config([api("svc", dead, backend={"health": {"max_failures": 1, "cooldown": "20s"}})])
    async with running_gateway(path) as (base, _), session() as client:
        first = await client.get(f"{base}/svc/v1/x")
        raw = await first.read()
        first_body = orjson.loads(raw)
        second = await client.get(f"{base}/svc/v1/x")
        second_body = orjson.loads(await second.read())
    assert first.status == 502 and first_body["code"] == 101503
    # the client learns what failed, never where: the backend addresses are in the operator's log only
    assert "connection" in first_body["detail"] and b"127.0.0.1" not in raw
    assert all(url.rsplit(":", 1)[1].encode() not in raw for url in dead)
    logged = [r.getMessage() for r in caplog.records if r.name == "splp.proxy"]
    assert any("API svc (/svc/v1)" in line and dead[0] in line and "cannot connect" in line for line in logged)
    assert second.status == 503 and second_body["code"] == 303001
    assert 1 <= int(second.headers["retry-after"]) <= 20


async def test_slow_backend_gives_504(write_config):
    async with serve(EchoUpstream()) as port:
        path = write_config(
            [
                api(
                    "svc",
                    [f"http://127.0.0.1:{port}"],
                    backend={"timeouts": {"connect": "1s", "read": "300ms", "total": "300ms"}, "retries": 0},
                )
            ]
        )
        async with running_gateway(path) as (base, _), session() as client:
            response = await client.get(f"{base}/svc/v1/slow/2000")
            body = orjson.loads(await response.read())
    assert response.status == 504 and body["code"] == 101504


async def test_weighted_round_robin(write_config):
    a, b = EchoUpstream("a"), EchoUpstream("b")
    async with serve(a) as port_a, serve(b) as port_b:
        path = write_config(
            [
                api(
                    "svc",
                    [
                        {"url": f"http://127.0.0.1:{port_a}", "weight": 3},
                        {"url": f"http://127.0.0.1:{port_b}", "weight": 1},
                    ],
                )
            ]
        )
        async with running_gateway(path) as (base, _), session() as client:
            for _ in range(40):
                response = await client.get(f"{base}/svc/v1/x")
                await response.read()
    assert (len(a.requests), len(b.requests)) == (30, 10)


async def test_backend_body_cut_short_is_not_complete_for_client(write_config):
    async with serve(EchoUpstream()) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"], backend={"retries": 0})])
        async with running_gateway(path) as (base, _), session() as client:
            response = await client.get(f"{base}/svc/v1/cut/200000")
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()


async def test_upload_and_download_100_mib_stream(write_config):
    upstream = EchoUpstream()
    size = 100 * 1024 * 1024
    async with serve(upstream) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"])])
        async with running_gateway(path) as (base, _), session() as client:

            async def body():
                block = b"z" * (1024 * 1024)
                for _ in range(100):
                    yield block

            response = await client.post(f"{base}/svc/v1/echo", data=body())
            seen = orjson.loads(await response.read())
            assert seen["size"] == size and seen["complete"]

            download = await client.get(f"{base}/svc/v1/chunked/{size}")
            received = 0
            async for chunk in download.content.iter_any():
                received += len(chunk)
            assert download.status == 200 and received == size


async def test_client_body_abort_resets_upstream_request(write_config):
    upstream = EchoUpstream()
    async with serve(upstream) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"])])
        async with running_gateway(path) as (base, _):
            gw_port = int(base.rsplit(":", 1)[1])
            reader, writer = await asyncio.open_connection("127.0.0.1", gw_port)
            writer.write(b"POST /svc/v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"a" * 30000)
            await writer.drain()
            await asyncio.sleep(0.3)
            writer.close()  # the client vanishes with 70000 bytes missing
            for _ in range(50):
                if upstream.requests:
                    break
                await asyncio.sleep(0.05)
    assert upstream.requests, "the backend should have seen the start of the request"
    assert all(not r["complete"] for r in upstream.requests)


async def test_slow_body_gets_408_and_upstream_reset(write_config):
    upstream = EchoUpstream()
    async with serve(upstream) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"])], gateway={"limits": {"body_timeout": "500ms"}})
        async with running_gateway(path) as (base, _):
            reader, writer = await asyncio.open_connection("127.0.0.1", int(base.rsplit(":", 1)[1]))
            writer.write(b"POST /svc/v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"a" * 1000)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)  # the gateway answers, then closes
            writer.close()
            for _ in range(50):
                if upstream.requests:
                    break
                await asyncio.sleep(0.05)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:200]
    assert orjson.loads(body)["code"] == 800408
    assert upstream.requests and not any(r["complete"] for r in upstream.requests)


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
        b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 2\r\n\r\n",
    ],
    ids=["cl-and-te", "two-content-lengths", "bad-status-line", "nul-in-header"],
)
async def test_backend_bad_framing_is_502_never_passed_on(write_config, head):
    async def backend(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(head + b"ok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(backend, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"], backend={"retries": 0})])
        async with running_gateway(path) as (base, _), session() as client:
            response = await client.get(f"{base}/svc/v1/x")
            body = orjson.loads(await response.read())
    finally:
        server.close()
        await server.wait_closed()
    assert response.status == 502, body
    assert body["code"] == 101506 and response.headers["content-type"] == "application/problem+json"
