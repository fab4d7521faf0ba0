"""The whole national flow, end to end, over real sockets: a publisher registers an API, its
institution approves publishing, the API appears in the catalog and on the running gateway; another
institution's developer finds it, creates an application, subscribes, the owner approves, and the
application calls the API through the gateway with a token from the resident key manager. A tier
tightened through the control API and a blocked subscription reach the gateway within a second."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from tests.gateway.control.conftest import Control
from tests.gateway.feed.stack import running_stack
from tests.gateway.feed.test_live_push import PUSH_DEADLINE, status_within
from tests.policies.auth.conftest import resident


async def ok(control: Control, method: str, path: str, user: str, want: int = 200, **kwargs: Any) -> Any:
    status, body = await control.call(method, path, as_user=user, **kwargs)
    assert status == want, (method, path, status, body)
    return body


async def client_token(http: aiohttp.ClientSession, base: str, app_id: str, secret: str) -> tuple[int, Any]:
    headers = {"authorization": aiohttp.encode_basic_auth(app_id, secret)}
    async with http.post(
        f"{base}/oauth2/token", data={"grant_type": "client_credentials"}, headers=headers
    ) as response:
        return response.status, await response.json(content_type=None)


async def test_publish_approve_subscribe_call_block(
    store_uri: str, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    gateway_path = write_config(
        [],
        storage={"catalog": store_uri, "serve_catalog": True},
        key_managers=[resident(tmp_path)],
        policies=[{"auth": {}}, {"throttle": {"subscription": {}, "application": {}}}],
    )
    async with running_stack(store_uri, gateway_path, tmp_path, "pegawai") as stack:
        control, gw, http, upstream, tenants = (
            stack.control,
            stack.gateway,
            stack.http,
            stack.upstream,
            stack.control.tenants,
        )
        # Bappenas wants to approve publishing and every subscription to its APIs
        settings = {"api_state_change": True, "api_update": False, "application_creation": False, "subscription": True}
        await ok(control, "PUT", f"/tenants/{tenants['a']}/approval-settings", "a_admin", json=settings)

        api = await ok(
            control,
            "POST",
            "/apis",
            "a_pub",
            201,
            json={
                "name": "Data Pegawai",
                "context": "/bappenas/pegawai",
                "version": "v1",
                "description": "Data kepegawaian ASN Bappenas",
                "tags": ["kepegawaian"],
                "visibility": "public",
                "backend": {"endpoints": [stack.backend]},
                "resources": ["GET /echo"],
            },
        )
        pending = await ok(control, "POST", f"/apis/{api['id']}/lifecycle", "a_pub", 202, json={"action": "publish"})
        await asyncio.sleep(0.4)
        assert (await http.get(f"{gw}/bappenas/pegawai/v1/echo")).status == 404  # not before approval
        await ok(
            control, "POST", f"/approvals/{pending['id']}/approve", "a_admin", json={"reason": "data owner agrees"}
        )
        await status_within(http, f"{gw}/bappenas/pegawai/v1/echo", 401, PUSH_DEADLINE)  # served, needs a token

        found = await ok(control, "GET", "/catalog?q=kepegawaian", "b_pub")
        assert [entry["id"] for entry in found["items"]] == [api["id"]]

        app = await ok(
            control, "POST", "/applications", "b_pub", 201, json={"name": "SIMPEG Kemenkes", "tier": "Unlimited"}
        )
        secret = app["client_secret"]
        sub = await ok(
            control,
            "POST",
            "/subscriptions",
            "b_pub",
            201,
            json={"application_id": app["id"], "api_id": api["id"], "tier": "Gold"},
        )
        assert sub["status"] == "PENDING_APPROVAL"
        queue = await ok(control, "GET", "/approvals?status=PENDING", "a_admin")
        (request,) = [item for item in queue["items"] if item["object_id"] == sub["id"]]
        await asyncio.sleep(0.4)
        status, body = await client_token(http, gw, app["id"], secret)  # the app is known: ACTIVE
        if status == 200:
            async with http.get(
                f"{gw}/bappenas/pegawai/v1/echo", headers={"authorization": f"Bearer {body['access_token']}"}
            ) as response:
                assert response.status == 403  # but not subscribed until the owner approves
        await ok(control, "POST", f"/approvals/{request['id']}/approve", "a_admin", json={"reason": "MoU signed"})

        status, body = await client_token(http, gw, app["id"], secret)
        assert status == 200, body
        bearer = {"authorization": f"Bearer {body['access_token']}"}
        for _ in range(50):  # the approved subscription reaches the gateway through the feed
            async with http.get(f"{gw}/bappenas/pegawai/v1/echo", headers=bearer) as response:
                if response.status == 200:
                    break
            await asyncio.sleep(0.02)
        assert response.status == 200
        assert response.headers["x-ratelimit-limit"] == "5000"  # the Gold subscription tier
        assert upstream.requests[-1]["path"] == "/echo"

        # the national operator tightens the Gold tier through the control API: live within a second
        await ok(control, "PUT", "/tiers/subscription/Gold", "root", json={"requests": "3/minute"})
        await ok(control, "PUT", "/tiers/subscription/Platinum", "root", json={"requests": "9000/minute"})
        other = await ok(control, "POST", "/applications", "b_pub", 201, json={"name": "Platinum user"})
        platinum = {"application_id": other["id"], "api_id": api["id"], "tier": "Platinum"}
        assert (await ok(control, "POST", "/subscriptions", "b_pub", 201, json=platinum))["tier"] == "Platinum"
        statuses = []
        for _ in range(60):
            async with http.get(f"{gw}/bappenas/pegawai/v1/echo", headers=bearer) as response:
                statuses.append(response.status)
                if response.status == 429:
                    assert response.headers["x-ratelimit-limit"] == "3"
                    assert int(response.headers["retry-after"]) >= 1
                    break
            await asyncio.sleep(0.02)
        assert statuses[-1] == 429 and len(statuses) <= 55, statuses

        subscription = (await ok(control, "GET", f"/subscriptions?application_id={app['id']}", "b_pub"))["items"][0]
        await ok(control, "POST", f"/subscriptions/{subscription['id']}/block", "a_admin")
        for _ in range(50):
            async with http.get(f"{gw}/bappenas/pegawai/v1/echo", headers=bearer) as response:
                if response.status == 403:
                    break
            await asyncio.sleep(0.02)
        assert response.status == 403
