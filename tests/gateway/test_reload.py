"""Live reload: a new snapshot swaps in under load with zero failed requests; a bad config changes nothing."""

from __future__ import annotations

import asyncio

import aiohttp
import yaml

from tests.gateway.conftest import api, running_gateway
from tests.servers import EchoUpstream, serve


async def test_reload_under_load_has_zero_failures(write_config):
    a, b = EchoUpstream("a"), EchoUpstream("b")
    async with serve(a) as port_a, serve(b) as port_b:
        path = write_config([api("svc", [f"http://127.0.0.1:{port_a}"])], gateway={"watch_config": True})
        async with running_gateway(path) as (base, app), aiohttp.ClientSession() as client:
            statuses: list[int] = []
            stop = asyncio.Event()

            async def load() -> None:
                while not stop.is_set():
                    async with client.get(f"{base}/svc/v1/x") as response:
                        await response.read()
                        statuses.append(response.status)

            workers = [asyncio.create_task(load()) for _ in range(8)]
            await asyncio.sleep(0.5)
            data = yaml.safe_load(path.read_text())
            data["apis"][0]["backend"]["endpoints"] = [f"http://127.0.0.1:{port_b}"]
            data["apis"].append(api("new", [f"http://127.0.0.1:{port_b}"]))
            path.write_text(yaml.safe_dump(data))
            for _ in range(40):  # the watcher polls once per second
                if app.holder.current.version > 1:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.gather(*workers)
            async with client.get(f"{base}/new/v1/x") as response:
                new_status = response.status
    assert app.holder.current.version == 2
    assert len(statuses) > 100 and set(statuses) == {200}
    assert a.requests and b.requests and new_status == 200


async def test_bad_config_keeps_the_old_snapshot(write_config, caplog):
    async with serve(EchoUpstream()) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"])])
        async with running_gateway(path) as (base, app), aiohttp.ClientSession() as client:
            path.write_text(path.read_text().replace("version: v1", "version: ../v1"))
            assert await app.reloader.reload() is False
            async with client.get(f"{base}/svc/v1/x") as response:
                assert response.status == 200
    assert app.holder.current.version == 1
    assert "config reload refused, still serving snapshot 1" in caplog.text
    assert "apis[0].version: '../v1' is not a version" in caplog.text


async def test_restart_only_changes_are_named(write_config, caplog):
    """A reload applies what it can and names the keys that wait for a restart (sockets, workers, pools)."""
    async with serve(EchoUpstream()) as port:
        path = write_config([api("svc", [f"http://127.0.0.1:{port}"])])
        async with running_gateway(path) as (base, app):
            data = yaml.safe_load(path.read_text())
            data.setdefault("gateway", {})["workers"] = 4
            data["gateway"].setdefault("limits", {})["max_headers"] = 50
            data["gateway"]["limits"]["body_timeout"] = "5s"  # applied live: not named
            data["control"]["listen"] = {"host": "127.0.0.1", "port": 23999}
            data.setdefault("upstream", {})["pool"] = {"limit": 10}
            data["tiers"] = {"subscription": {"Gold": {"requests": "10/minute"}}}  # live; control API disabled
            path.write_text(yaml.safe_dump(data))
            assert await app.reloader.reload() is True
    assert app.holder.current.version == 2
    waiting = [r.getMessage() for r in caplog.records if "need a restart" in r.getMessage()]
    assert waiting == [
        "config changes that need a restart (still running the old values): gateway.workers, "
        "gateway.limits.max_headers, control.listen.port, upstream.pool.limit"
    ]
