"""The locust suite against a real deployment (control API + gateway + backend on loopback): tokens from
/oauth2/token with client credentials from the environment, the API mix read from the catalog, 429s
counted apart (THROTTLED) and rate-limit headers honoured: a user that saw `r=0` or a 429 waits for the
window to reset, so a 5/minute subscription costs at most one refused call per user, not thousands."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.gateway.catalog.backends import pg_module_database, store_uri  # noqa: F401 - fixtures
from tests.gateway.conftest import write_config  # noqa: F401 - fixture
from tests.gateway.control.conftest import PASSWORD
from tests.gateway.feed.stack import running_stack
from tests.gateway.feed.test_publish_to_call import ok
from tests.policies.auth.conftest import resident

ROOT = Path(__file__).resolve().parents[2]
USERS = 2


@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)
async def test_locust_suite_mixes_catalog_apis_and_counts_429_apart(
    store_uri: str,  # noqa: F811 - fixture
    write_config: Callable[..., Path],  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    gateway_path = write_config(
        [],
        storage={"catalog": store_uri, "serve_catalog": True},
        key_managers=[resident(tmp_path)],
        policies=[{"auth": {}}, {"throttle": {"subscription": {}}}],
    )
    async with running_stack(store_uri, gateway_path, tmp_path, "locust") as stack:
        control = stack.control
        await ok(control, "PUT", "/tiers/subscription/Tiny", "root", json={"requests": "5/minute"})
        app = await ok(control, "POST", "/applications", "b_pub", 201, json={"name": "Load", "tier": "Unlimited"})
        for name, tier in (("fast", "Unlimited"), ("tiny", "Tiny")):
            api = await ok(
                control,
                "POST",
                "/apis",
                "a_pub",
                201,
                json={
                    "name": name,
                    "context": f"/load/{name}",
                    "version": "v1",
                    "visibility": "public",
                    "backend": {"endpoints": [stack.backend]},
                    "resources": ["GET /echo/{id}"],
                },
            )
            await ok(control, "POST", f"/apis/{api['id']}/lifecycle", "a_pub", json={"action": "publish"})
            sub = {"application_id": app["id"], "api_id": api["id"], "tier": tier}
            await ok(control, "POST", "/subscriptions", "b_pub", 201, json=sub)
        await asyncio.sleep(0.5)  # the gateway follows the catalog within a second

        env = {
            **os.environ,
            "SPLP_CLIENT_ID": app["id"],
            "SPLP_CLIENT_SECRET": app["client_secret"],
            "SPLP_CONTROL_URL": control.base.removesuffix("/api/v1"),
            "SPLP_CONTROL_USERNAME": "root",
            "SPLP_CONTROL_PASSWORD": PASSWORD,
            "SPLP_LOCUST_WEIGHTS": "/load/fast/v1=3,/load/tiny/v1=1",
            "PYTHONPATH": str(ROOT),
        }
        prefix = tmp_path / "locust"
        command = [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locust_deployment.py"), "--headless"]
        command += ["--host", stack.gateway, "-u", str(USERS), "-r", str(USERS), "-t", "4s", "--stop-timeout", "2"]
        command += ["--csv", str(prefix), "--only-summary", "--loglevel", "ERROR", "--exit-code-on-error", "0"]
        result = await asyncio.to_thread(
            subprocess.run, command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr[-3000:]
        stats = Path(f"{prefix}_stats.csv").read_text()  # noqa: ASYNC240 - a small file, written already
        rows = {(row["Type"], row["Name"]): row for row in csv.DictReader(stats.splitlines())}
        calls = {key: int(row["Request Count"]) for key, row in rows.items()}
        failures = {key: int(row["Failure Count"]) for key, row in rows.items() if int(row["Failure Count"])}
        assert not failures, (failures, result.stderr[-2000:])
        assert calls[("POST", "/oauth2/token")] >= 1  # each user signs in with the app's client credentials
        assert calls[("GET", "/load/fast/v1")] > 20
        assert calls[("GET", "/load/tiny/v1")] <= 5 + USERS  # the limit, plus at most one refused call per user
        assert 0 < calls.get(("THROTTLED", "/load/tiny/v1"), 0) <= USERS
        assert {r["path"] for r in stack.upstream.requests} == {"/echo/1"}
