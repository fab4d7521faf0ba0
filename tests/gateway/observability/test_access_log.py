"""The access log: one line per request, JSON or combined text, escaped, per-API off and sampling."""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp

from gateway.observability.logs import escape
from tests.gateway.conftest import api, running_gateway
from tests.servers import EchoUpstream, serve


def test_escape_leaves_plain_text_and_hexes_quotes_backslashes_controls():
    assert escape("GET /a/b?c=1") == "GET /a/b?c=1"
    assert escape('a"b\\c\nd\x1b') == "a\\x22b\\x5Cc\\x0Ad\\x1B"


async def test_json_lines_one_per_request_with_request_id_status_and_api(write_config, tmp_path):
    log = tmp_path / "logs" / "access.log"
    async with serve(EchoUpstream()) as port:
        path = write_config(
            [api("svc", [f"http://127.0.0.1:{port}"])],
            observability={"access_log": {"enabled": True, "output": str(log)}},
        )
        async with running_gateway(path) as (base, app), aiohttp.ClientSession() as http:
            for url in ("/svc/v1/echo?x=1", "/nowhere/v1/x"):
                async with http.get(base + url, headers={"x-request-id": "req-1", "user-agent": 'ua "q"'}) as r:
                    await r.read()
            assert app.pipeline is not None
            await app.pipeline.flush()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["path"], e["status"], e["api"]) for e in lines] == [
        ("/svc/v1/echo?x=1", 200, "/svc/v1"),
        ("/nowhere/v1/x", 404, ""),
    ]
    assert lines[0]["request_id"] == "req-1" and lines[0]["user_agent"] == 'ua "q"'
    assert lines[0]["latency_ms"] > 0 and lines[0]["bytes"] > 0 and lines[0]["client"] == "127.0.0.1"


async def test_combined_text_cannot_be_forged_and_an_api_can_turn_it_off(write_config, tmp_path):
    log = tmp_path / "access.log"
    async with serve(EchoUpstream()) as port:
        apis = [
            api("loud", [f"http://127.0.0.1:{port}"]),
            api("quiet", [f"http://127.0.0.1:{port}"], observability={"access_log": False}),
            api("half", [f"http://127.0.0.1:{port}"], observability={"sample": 0.0}),
        ]
        path = write_config(
            apis, observability={"access_log": {"enabled": True, "format": "combined", "output": str(log)}}
        )
        async with running_gateway(path) as (base, app):
            forged = b'x" 200 1 "-" "-" rid=forged rt=0.0001\t'
            for prefix in (b"/loud", b"/quiet", b"/half"):
                reader, writer = await asyncio.open_connection("127.0.0.1", int(base.rsplit(":", 1)[1]))
                writer.write(
                    b"GET "
                    + prefix
                    + b"/v1/echo HTTP/1.1\r\nhost: t\r\nuser-agent: "
                    + forged
                    + b'\r\nreferer: r"\r\nconnection: close\r\n\r\n'
                )
                assert (await reader.read()).startswith(b"HTTP/1.1 200 ")
                writer.close()
            assert app.pipeline is not None
            await app.pipeline.flush()
    (line,) = log.read_text().splitlines()
    pattern = (
        r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /loud/v1/echo HTTP/1.1" 200 \d+ '
        r'"r\\x22" "x\\x22 200 1 \\x22-\\x22 \\x22-\\x22 rid=forged rt=0\.0001\\x09" rid=[0-9a-f]{32} rt=\d+\.\d{4}$'
    )
    assert re.match(pattern, line), line
