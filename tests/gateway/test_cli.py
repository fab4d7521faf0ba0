"""The `splp` command as operators run it: real subprocesses."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time

import aiohttp
import pytest
import yaml

from tests.gateway.conftest import ROOT, SPLP, api, spawned_gateway
from tests.servers import EchoUpstream, free_port, serve


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SPLP, *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_version_and_check_ok():
    assert run("version").stdout.startswith("splp ")
    result = run("check", "conf/")
    assert result.returncode == 0 and result.stdout.startswith("ok: ")


def test_check_reports_file_path_and_expectation(tmp_path):
    bad = tmp_path / "gateway.yaml"
    bad.write_text("gateway:\n  workers: many\n  listen: {port: 99999}\n")
    result = run("check", str(bad))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{bad}: 2 errors",
        "  gateway.listen.port: 99999: Input should be less than or equal to 65535",
        "  gateway.workers: 'many': Input should be a valid integer, unable to parse string as an integer",
    ]


def test_check_reports_chain_errors_with_structure_errors(tmp_path):
    """Cross-checks a policy makes when its chain is built (a tier that does not exist) come in the same
    report as the schema errors, for every API; nothing is written (no resident key file)."""
    throttle = {"throttle": {"subscription": {"default_tier": "Platinum"}}}
    config = {
        "gateway": {"workers": 0},
        "key_managers": [{"type": "resident", "key_file": str(tmp_path / "keys.json")}],
        "apis": [
            {**api("a", ["http://127.0.0.1:9"]), "policies": [{"auth": {}}, throttle]},
            {**api("b", ["http://127.0.0.1:9"]), "policies": [throttle]},
        ],
    }
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run("check", str(path))
    assert result.returncode == 1 and "gateway.workers: 0" in result.stderr
    config["gateway"]["workers"] = 1
    path.write_text(yaml.safe_dump(config))
    result = run("check", str(path))
    assert result.returncode == 1
    assert result.stderr.count("'Platinum' is not a subscription tier") == 2, result.stderr
    assert "apis[/a/v1].policies.throttle" in result.stderr and "apis[/b/v1].policies.throttle" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gateway.yaml"]


@pytest.mark.parametrize(("workers", "taken"), [(1, "control"), (2, "gateway")])
def test_serve_exits_when_a_port_is_taken(tmp_path, workers, taken):
    """Either listener's port taken: `splp serve` exits 1 within seconds, naming the address and the config
    key, and leaves no process behind holding the other port."""
    gateway_port, control_port = free_port(), free_port()
    config = {
        "gateway": {"listen": {"host": "127.0.0.1", "port": gateway_port}, "workers": workers, "watch_config": False},
        "control": {"listen": {"host": "127.0.0.1", "port": control_port}},
        "storage": {"catalog": f"sqlite:///{tmp_path / 'catalog.db'}"},
    }
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    port = gateway_port if taken == "gateway" else control_port
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        started = time.monotonic()
        result = run("serve", "--config", str(path))
        elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert f"cannot listen on 127.0.0.1:{port} ({taken}.listen): address already in use" in result.stderr
    assert elapsed < 20
    other = control_port if taken == "gateway" else gateway_port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", other))  # free again: nothing was left listening


async def test_serve_two_workers_sighup_reload_and_graceful_sigterm(tmp_path):
    upstream = EchoUpstream()
    async with serve(upstream) as up_port:
        config = {
            "gateway": {"workers": 2, "watch_config": False, "limits": {"graceful_timeout": "10s"}},
            "control": {"enabled": False},
            "apis": [api("svc", [f"http://127.0.0.1:{up_port}"])],
        }
        path = tmp_path / "gateway.yaml"
        path.write_text(yaml.safe_dump(config))
        async with spawned_gateway(path) as (base, process):
            async with aiohttp.ClientSession() as client:
                async with client.get(f"{base}/added/v1/x") as response:
                    assert response.status == 404
                config["apis"].append(api("added", [f"http://127.0.0.1:{up_port}"]))
                path.write_text(yaml.safe_dump(config))
                process.send_signal(signal.SIGHUP)
                # both workers must serve the new API: ask several times over fresh connections
                deadline = time.monotonic() + 10
                ok = 0
                while ok < 10 and time.monotonic() < deadline:
                    async with aiohttp.ClientSession() as fresh, fresh.get(f"{base}/added/v1/x") as response:
                        ok = ok + 1 if response.status == 200 else 0
                    await asyncio.sleep(0.05)
                assert ok >= 10, "new API not served by every worker after SIGHUP"

                slow = asyncio.create_task(client.get(f"{base}/svc/v1/slow/1500"))
                await asyncio.sleep(0.4)
                process.send_signal(signal.SIGTERM)
                response = await slow
                assert response.status == 200  # in flight at SIGTERM: allowed to finish
                response.release()
            assert await asyncio.to_thread(process.wait, 20) == 0


def test_check_covers_etl_jobs(tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text("name: x\nsteps: 3\n")
    result = run("check", str(job), "conf/etl/pegawai-csv-upsert.yaml")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == f"{job}: 2 errors"
    assert "  connections: required key is missing" in result.stderr
    assert "etl" in run("--help").stdout
