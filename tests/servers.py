"""Real servers on loopback for tests: uvicorn in the test's own event loop, on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from gateway.types import Receive, Scope, Send


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(app: Any, *, port: int | None = None, config: uvicorn.Config | None = None) -> AsyncIterator[int]:
    """Serves `app` (or a prepared uvicorn.Config) until the block ends; yields the port."""
    if config is None:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port or free_port(),
            loop="none",
            lifespan="auto",
            log_level="warning",
            access_log=False,
            ws="none",
        )
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign] - the test owns signals
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
        raise RuntimeError("server exited during startup")
    try:
        yield config.port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


class EchoUpstream:
    """A backend for proxy tests. Never buffers: bodies are hashed as they stream.

    /echo            -> JSON of method, path, query, headers, body size and sha256
    /bytes/{n}       -> n bytes, streamed in 64 KiB chunks (content-length set)
    /chunked/{n}     -> n bytes, chunked
    /slow/{ms}       -> waits, then 200
    /status/{code}   -> that status
    /cut/{n}         -> announces n bytes, sends half, then the app fails (connection closed short)
    """

    def __init__(self, name: str = "up") -> None:
        self.name = name
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        import orjson

        path: str = scope["path"]
        digest = hashlib.sha256()
        size = 0
        complete = False
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            digest.update(chunk)
            if not message.get("more_body", False):
                complete = True
                break
        record = {
            "name": self.name,
            "method": scope["method"],
            "path": path,
            "raw_path": (scope.get("raw_path") or b"").decode("latin-1"),
            "query": scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "size": size,
            "sha256": digest.hexdigest(),
            "complete": complete,
        }
        self.requests.append(record)
        if not complete:
            return
        parts = path.strip("/").split("/")
        if parts[0] == "bytes" or parts[0] == "chunked":
            n = int(parts[1])
            headers = [(b"content-type", b"application/octet-stream")]
            if parts[0] == "bytes":
                headers.append((b"content-length", str(n).encode()))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            block = b"x" * 65536
            sent = 0
            while sent < n:
                piece = block[: min(65536, n - sent)]
                sent += len(piece)
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if parts[0] == "cut":
            n = int(parts[1])
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(n).encode())]}
            )
            await send({"type": "http.response.body", "body": b"y" * (n // 2), "more_body": True})
            raise RuntimeError("backend dies mid-body (on purpose)")
        status = 200
        if parts[0] == "slow":
            await asyncio.sleep(int(parts[1]) / 1000)
        elif parts[0] == "status":
            status = int(parts[1])
        body = orjson.dumps(record)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"x-hop"),
                    (b"x-hop", b"must-not-pass"),
                    (b"keep-alive", b"timeout=5"),
                    (b"x-backend", self.name.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})
