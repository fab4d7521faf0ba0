"""`lean`: the bare minimum proxy on this project's stack, the reference for what the gateway machinery costs.

uvicorn + uvloop + httptools, raw ASGI, one shared aiohttp ClientSession, no routing, no policies.

    LEAN_UPSTREAM=http://127.0.0.1:18080 python -m bench.lean.proxy --port 18081
"""

from __future__ import annotations

import argparse
import os

import aiohttp
import uvicorn

HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade", b"host", b"content-length"})
HOP_OUT = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"content-length"})


class LeanProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await receive()  # lifespan.startup
            connector = aiohttp.TCPConnector(limit=1000, limit_per_host=1000, keepalive_timeout=30)
            jar = aiohttp.DummyCookieJar()
            self.session = aiohttp.ClientSession(connector=connector, auto_decompress=False, cookie_jar=jar)
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
            await self.session.close()
            return await send({"type": "lifespan.shutdown.complete"})
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k not in HOP]
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        url = self.upstream + scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode("latin-1")
        async with self.session.request(
            scope["method"], url, headers=headers, data=body or None, allow_redirects=False
        ) as r:
            out = [(k.lower(), v) for k, v in r.raw_headers if k.lower() not in HOP_OUT]
            payload = await r.read()
        out.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": r.status, "headers": out})
        await send({"type": "http.response.body", "body": payload})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=18081)
    args = parser.parse_args()
    app = LeanProxy(os.environ.get("LEAN_UPSTREAM", "http://127.0.0.1:18080"))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
        backlog=4096,
    )


if __name__ == "__main__":
    main()
