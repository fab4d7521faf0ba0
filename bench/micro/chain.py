"""Micro-benchmark: microseconds per request spent in a scenario's policy chain, in-process, no sockets.

    python -m bench.micro.chain [SCENARIO ...] [--requests N]

Builds the gateway of bench/conf/<scenario>/ exactly as `splp serve` would, replaces the proxy at the end of
the chain with an app that answers 200 at once, and calls the chain N times with the scenario's request.
The passthrough scenario (no policy) is the floor. Not a test: numbers depend on the machine; compare
scenarios within one run.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import uvloop

from bench import scenarios
from gateway.app import GatewayApp
from gateway.config.load import load_config
from gateway.context import RequestContext


async def _answer(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok", "more_body": False})


async def measure(name: str, requests: int) -> tuple[float, int, set[int]]:
    scenario = scenarios.get(name)
    os.environ.setdefault("SPLP_BENCH_UPSTREAM", "http://127.0.0.1:9")  # never contacted
    app = GatewayApp(load_config(scenario.conf / "gateway.yaml"))
    try:
        api = app.holder.current.apis[0]
        node, policies = api.app, []
        while hasattr(node, "app"):
            policies.append(node)
            node = node.app
        entry = api.app if policies else _answer
        if policies:
            policies[-1].app = _answer
        path = scenario.url_path.removeprefix(api.prefix) or "/"
        resource, params, _ = api.resources.match(scenario.method, path)
        headers = [(b"host", b"bench"), *((k.lower().encode(), v.encode()) for k, v in scenario.headers)]
        statuses: set[int] = set()

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                statuses.add(message["status"])

        async def receive() -> Any:
            return {"type": "http.request", "body": scenario.body, "more_body": False}

        async def once() -> None:
            scope = {"type": "http", "method": scenario.method, "path": scenario.url_path, "headers": list(headers),
                     "query_string": b"", "client": ("127.0.0.1", 40000)}  # fmt: skip
            scope["gateway"] = RequestContext(b"bench", api, resource, params, path.encode(), "127.0.0.1", b"bench")
            await entry(scope, receive, send)

        for _ in range(min(1000, requests)):  # warm caches (token cache, counters)
            await once()
        started = time.perf_counter()
        for _ in range(requests):
            await once()
        return (time.perf_counter() - started) / requests * 1e6, len(policies), statuses
    finally:
        await app.services.aclose()
        await app.upstreams.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.micro.chain")
    parser.add_argument("scenarios", nargs="*", default=["passthrough", "jwt", "throttle-memory"])
    parser.add_argument("--requests", type=int, default=50_000)
    args = parser.parse_args()
    for name in args.scenarios:
        micros, count, statuses = uvloop.run(measure(name, args.requests))
        print(f"{name:18} {micros:7.2f} us per request through {count} policies (statuses {sorted(statuses)})")


if __name__ == "__main__":
    main()
