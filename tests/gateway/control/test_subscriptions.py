"""Subscriptions through the control API: only PUBLISHED APIs the subscriber sees, subscription tiers,
the two tenants' roles (subscriber unsubscribes, API owner blocks), isolation from everybody else,
and a blocked subscription exported as blocked for gateways."""

from __future__ import annotations

from gateway.catalog.export import consumer_configs
from tests.gateway.control.conftest import Control
from tests.gateway.control.consumers import catalog, new_app, published_api
from tests.gateway.control.test_apis import create


async def test_subscribe_block_unsubscribe(control: Control, store_uri: str) -> None:
    api = await published_api(control)
    app = await new_app(control, "b_pub", name="Kemenkes app")
    status, problem = await control.call(
        "POST",
        "/subscriptions",
        as_user="b_pub",
        json={"application_id": app["id"], "api_id": api["id"], "tier": "Fast"},
    )
    assert status == 422 and problem["errors"][0]["loc"] == ["body", "tier"]
    status, sub = await control.call(
        "POST",
        "/subscriptions",
        as_user="b_pub",
        json={"application_id": app["id"], "api_id": api["id"], "tier": "Gold"},
    )
    assert status == 201 and (sub["status"], sub["api"], sub["tier"]) == ("ACTIVE", "/bappenas/pegawai/v1", "Gold")
    status, problem = await control.call(
        "POST", "/subscriptions", as_user="b_pub", json={"application_id": app["id"], "api_id": api["id"]}
    )
    assert status == 409
    path = f"/subscriptions/{sub['id']}"
    for user in ("b_pub", "a_admin", "a_aud", "root"):  # both sides, and the national operator
        assert (await control.call("GET", path, as_user=user))[0] == 200, user
    status, page = await control.call("GET", f"/subscriptions?api_id={api['id']}", as_user="a_pub")
    assert [s["id"] for s in page["items"]] == [sub["id"]]
    assert (await control.call("POST", path + "/block", as_user="b_admin"))[0] == 403  # the subscriber's side
    assert (await control.call("POST", path + "/block", as_user="a_aud"))[0] == 403
    status, blocked = await control.call("POST", path + "/block", as_user="a_pub")
    assert status == 200 and blocked["status"] == "BLOCKED"
    async with catalog(store_uri) as store:
        _, subs = await consumer_configs(store)
    assert [(s.application, s.api, s.tier, s.status) for s in subs] == [
        (app["id"], "/bappenas/pegawai/v1", "Gold", "blocked")
    ]
    assert (await control.call("POST", path + "/unblock", as_user="a_admin"))[1]["status"] == "ACTIVE"
    assert (await control.call("DELETE", path, as_user="a_admin"))[0] == 403  # the owner blocks, never unsubscribes
    assert (await control.call("DELETE", path, as_user="b_pub"))[0] == 204
    assert (await control.call("GET", path, as_user="b_pub"))[0] == 404


async def test_only_visible_published_apis(control: Control) -> None:
    app = await new_app(control, "b_pub")
    private = await create(control, "a_pub", context="/bappenas/gaji")  # visibility tenant
    status, _ = await control.call(
        "POST", f"/apis/{private['id']}/lifecycle", as_user="a_pub", json={"action": "publish"}
    )
    assert status == 200
    draft = await create(control, "a_pub", context="/bappenas/draft", visibility="public")
    deprecated = await published_api(control, context="/bappenas/lama")
    await control.call("POST", f"/apis/{deprecated['id']}/lifecycle", as_user="a_pub", json={"action": "deprecate"})
    cases = ((private, 422), ("missing", 422), (draft, 409), (deprecated, 409))
    for api, expected in cases:
        api_id = api if isinstance(api, str) else api["id"]
        status, problem = await control.call(
            "POST", "/subscriptions", as_user="b_pub", json={"application_id": app["id"], "api_id": api_id}
        )
        assert status == expected, (api_id, problem)
    assert problem["detail"].startswith("the API is DEPRECATED")


async def test_tenant_isolation_both_ways(control: Control) -> None:
    api_a = await published_api(control)
    app_a = await new_app(control, "a_dev", name="Bappenas app")
    app_b = await new_app(control, "b_pub", name="Kemenkes app")
    api_b = await create(control, "b_pub", context="/kemenkes/faskes", visibility="public")
    await control.call("POST", f"/apis/{api_b['id']}/lifecycle", as_user="b_pub", json={"action": "publish"})
    status, own = await control.call(
        "POST", "/subscriptions", as_user="a_dev", json={"application_id": app_a["id"], "api_id": api_a["id"]}
    )
    assert status == 201
    status, other = await control.call(
        "POST", "/subscriptions", as_user="b_pub", json={"application_id": app_b["id"], "api_id": api_b["id"]}
    )
    assert status == 201
    for sub, outsider in ((own, "b_admin"), (other, "a_admin"), (own, "u_admin")):
        path = f"/subscriptions/{sub['id']}"
        for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/block"), ("POST", "/unblock")):
            status, body = await control.call(method, path + suffix, as_user=outsider)
            assert status == 404 and body["code"] == 801404, (outsider, method, suffix)
    # another tenant's application cannot be subscribed with
    status, problem = await control.call(
        "POST", "/subscriptions", as_user="b_pub", json={"application_id": app_a["id"], "api_id": api_b["id"]}
    )
    assert status == 422 and problem["errors"][0]["loc"] == ["body", "application_id"]
    status, page = await control.call("GET", "/subscriptions", as_user="b_admin")
    assert [s["id"] for s in page["items"]] == [other["id"]]
    status, page = await control.call("GET", "/subscriptions", as_user="a_aud")
    assert [s["id"] for s in page["items"]] == [own["id"]]
    status, page = await control.call("GET", "/subscriptions", as_user="root")
    assert {s["id"] for s in page["items"]} == {own["id"], other["id"]}
    status, stats = await control.call("GET", "/dashboard/stats", as_user="a_admin")
    assert (stats["total_applications"], stats["total_subscriptions"]) == (1, 1)
