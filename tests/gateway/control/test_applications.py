"""Applications through the control API: create with a secret shown once (verifiable with
keymanager.hashing), tiers from the gateway config, API keys, secret rotation, roles, and tenant
isolation on every route in both directions."""

from __future__ import annotations

import hashlib

from keymanager.hashing import verify_secret
from tests.gateway.control.conftest import Control
from tests.gateway.control.consumers import catalog, new_app


async def test_create_read_update_secret_once(control: Control, store_uri: str) -> None:
    created = await new_app(control, "a_dev", scopes=["pegawai:read"], description="HR")
    assert (created["status"], created["tier"], created["tenant"], created["owner_id"]) == (
        "ACTIVE",
        "Unlimited",
        "bappenas",
        control.users["a_dev"],
    )
    secret = created.pop("client_secret")
    status, fetched = await control.call("GET", f"/applications/{created['id']}", as_user="a_aud")
    assert status == 200 and fetched == created and "client_secret" not in fetched
    async with catalog(store_uri) as store:
        async with store.db.read() as conn:
            stored = await conn.fetchval("SELECT client_secret_hash FROM applications WHERE id = $1", created["id"])
    assert verify_secret(secret, stored)

    status, issued = await control.call("POST", f"/applications/{created['id']}/secret", as_user="a_dev")
    assert status == 200 and issued["client_id"] == created["id"] and issued["client_secret"] != secret
    async with catalog(store_uri) as store:
        async with store.db.read() as conn:
            stored = await conn.fetchval("SELECT client_secret_hash FROM applications WHERE id = $1", created["id"])
    assert verify_secret(issued["client_secret"], stored) and not verify_secret(secret, stored)

    change = {"tier": "50PerMin", "name": "HRIS"}
    status, problem = await control.call("PUT", f"/applications/{created['id']}", as_user="a_pub", json=change)
    assert status == 403 and problem["detail"].startswith("only its owner")  # a_dev's, not shared with a_pub
    status, shared = await control.call(
        "POST", f"/applications/{created['id']}/shares", as_user="a_dev", json={"user_id": control.users["a_pub"]}
    )
    assert status == 200 and shared["shared_with"] == [control.users["a_pub"]]
    status, changed = await control.call("PUT", f"/applications/{created['id']}", as_user="a_pub", json=change)
    assert status == 200 and (changed["tier"], changed["name"], changed["description"]) == ("50PerMin", "HRIS", "HR")
    status, problem = await control.call(
        "PUT", f"/applications/{created['id']}", as_user="a_pub", json={"tier": "Gold"}
    )  # a subscription tier, not an application tier
    assert status == 422 and problem["errors"][0]["loc"] == ["body", "tier"]
    status, problem = await control.call("POST", "/applications", as_user="a_dev", json={"name": "X", "tier": "Fast"})
    assert status == 422 and "10PerMin" in problem["errors"][0]["msg"]
    status, problem = await control.call("POST", "/applications", as_user="a_dev", json={"name": "HRIS"})
    assert status == 409
    status, trail = await control.call(
        "GET", f"/audit?object_type=application&object_id={created['id']}", as_user="a_aud"
    )
    assert [e["action"] for e in trail["items"]] == [
        "application.update",
        "application.share",
        "application.secret",
        "application.create",
    ]
    assert secret not in str(trail) and issued["client_secret"] not in str(trail) and "scrypt$" not in str(trail)


async def test_keys(control: Control, store_uri: str) -> None:
    app = await new_app(control, "a_dev")
    status, key = await control.call(
        "POST",
        f"/applications/{app['id']}/keys",
        as_user="a_dev",
        json={"name": "server", "expires_at": "2999-01-01T08:00:00+07:00"},
    )
    assert status == 201 and key["prefix"] == key["key"][:8] and key["expires_at"] == "2999-01-01T01:00:00.000000Z"
    async with catalog(store_uri) as store:
        async with store.db.read() as conn:
            stored = await conn.fetchval("SELECT key_hash FROM application_keys WHERE id = $1", key["id"])
    assert stored == "sha256:" + hashlib.sha256(key["key"].encode()).hexdigest()
    status, problem = await control.call(
        "POST", f"/applications/{app['id']}/keys", as_user="a_dev", json={"expires_at": "2999-01-01T08:00:00"}
    )
    assert status == 422  # no offset: ambiguous
    status, fetched = await control.call("GET", f"/applications/{app['id']}", as_user="a_dev")
    assert [k["id"] for k in fetched["keys"]] == [key["id"]] and "key" not in fetched["keys"][0]
    assert (await control.call("DELETE", f"/applications/{app['id']}/keys/{key['id']}", as_user="a_dev"))[0] == 204
    status, fetched = await control.call("GET", f"/applications/{app['id']}", as_user="a_dev")
    assert fetched["keys"][0]["revoked"] is True
    assert (await control.call("DELETE", f"/applications/{app['id']}/keys/nope", as_user="a_dev"))[0] == 404


async def test_roles(control: Control) -> None:
    app = await new_app(control, "a_dev")
    path = f"/applications/{app['id']}"
    assert (await control.call("POST", "/applications", as_user="a_aud", json={"name": "Nope"}))[0] == 403
    for method, suffix, kwargs in (
        ("PUT", "", {"json": {"name": "Y"}}),
        ("DELETE", "", {}),
        ("POST", "/keys", {"json": {}}),
        ("POST", "/secret", {}),
    ):
        assert (await control.call(method, path + suffix, as_user="a_aud", **kwargs))[0] == 403, (method, suffix)
    assert (await control.call("POST", path + "/block", as_user="a_dev"))[0] == 403
    status, blocked = await control.call("POST", path + "/block", as_user="a_admin")
    assert status == 200 and blocked["status"] == "BLOCKED"
    assert (await control.call("POST", path + "/block", as_user="a_admin"))[0] == 409
    status, page = await control.call("GET", "/applications?status=BLOCKED", as_user="a_dev")
    assert [a["id"] for a in page["items"]] == [app["id"]]
    assert (await control.call("GET", "/applications?status=blocked", as_user="a_dev"))[0] == 422
    assert (await control.call("POST", path + "/unblock", as_user="root"))[1]["status"] == "ACTIVE"
    assert (await control.call("DELETE", path, as_user="a_pub"))[0] == 403  # not the owner's, nor shared
    assert (await control.call("DELETE", path, as_user="a_admin"))[0] == 204  # tenant admins act on all
    assert (await control.call("GET", path, as_user="a_pub"))[0] == 404


async def test_tenant_isolation_both_ways(control: Control) -> None:
    mine = await new_app(control, "a_dev", name="Bappenas app")
    theirs = await new_app(control, "b_pub", name="Kemenkes app")
    unit = await new_app(control, "a_admin", name="Unit app", tenant_id=control.tenants["unit"])
    assert unit["tenant"] == "bappenas-pusdatin"
    for owner, outsider in ((mine, "b_admin"), (theirs, "a_admin"), (mine, "u_admin")):
        path = f"/applications/{owner['id']}"
        key_id = "any"
        for method, suffix, kwargs in (
            ("GET", "", {}),
            ("PUT", "", {"json": {"name": "Taken"}}),
            ("DELETE", "", {}),
            ("POST", "/keys", {"json": {}}),
            ("DELETE", f"/keys/{key_id}", {}),
            ("POST", "/secret", {}),
            ("POST", "/block", {}),
            ("POST", "/unblock", {}),
        ):
            status, body = await control.call(method, path + suffix, as_user=outsider, **kwargs)
            assert status == 404 and body["code"] == 801404, (outsider, method, suffix)
    status, page = await control.call("GET", "/applications", as_user="b_admin")
    assert [a["name"] for a in page["items"]] == ["Kemenkes app"]
    status, page = await control.call("GET", "/applications", as_user="a_aud")
    assert [a["name"] for a in page["items"]] == ["Bappenas app", "Unit app"]  # a ministry sees its units
    status, page = await control.call("GET", f"/applications?tenant_id={control.tenants['a']}", as_user="b_admin")
    assert page["items"] == []
    status, page = await control.call("GET", "/applications", as_user="u_admin")
    assert [a["name"] for a in page["items"]] == ["Unit app"]
    status, problem = await control.call(
        "POST", "/applications", as_user="b_pub", json={"name": "Mole", "tenant_id": control.tenants["a"]}
    )
    assert status == 422 and problem["errors"][0]["loc"] == ["body", "tenant_id"]
    status, page = await control.call("GET", "/applications", as_user="root")
    assert len(page["items"]) == 3
    status, stats = await control.call("GET", "/dashboard/stats", as_user="b_admin")
    assert (stats["total_applications"], stats["total_subscriptions"]) == (1, 0)
    status, stats = await control.call("GET", "/dashboard/stats", as_user="root")
    assert stats["total_applications"] == 3
    status, unchanged = await control.call("GET", f"/applications/{mine['id']}", as_user="a_dev")
    assert unchanged["name"] == "Bappenas app" and unchanged["status"] == "ACTIVE"


async def test_owner_and_shares(control: Control) -> None:
    """Subscribers and publishers act only on what they own or is shared with them; only the owner (or an
    administrator) shares; a share names a user of the application's own tenant."""
    app = await new_app(control, "a_dev")
    path = f"/applications/{app['id']}"
    for method, suffix, kwargs in (
        ("POST", "/secret", {}),
        ("POST", "/keys", {"json": {}}),
        ("DELETE", "", {}),
        ("POST", "/shares", {"json": {"user_id": control.users["a_pub"]}}),
    ):
        assert (await control.call(method, path + suffix, as_user="a_pub", **kwargs))[0] == 403, (method, suffix)
    outsider = {"user_id": control.users["b_pub"]}  # another tenant's user
    assert (await control.call("POST", path + "/shares", as_user="a_dev", json=outsider))[0] == 422
    status, shared = await control.call(
        "POST", path + "/shares", as_user="a_admin", json={"user_id": control.users["a_pub"]}
    )
    assert status == 200 and shared["shared_with"] == [control.users["a_pub"]]
    status, issued = await control.call("POST", path + "/secret", as_user="a_pub")
    assert status == 200 and issued["client_id"] == app["id"]
    again = {"user_id": control.users["a_admin"]}  # shared users may not share further
    assert (await control.call("POST", path + "/shares", as_user="a_pub", json=again))[0] == 403
    assert (await control.call("DELETE", f"{path}/shares/{control.users['a_pub']}", as_user="a_dev"))[0] == 204
    assert (await control.call("DELETE", f"{path}/shares/{control.users['a_pub']}", as_user="a_dev"))[0] == 404
    assert (await control.call("POST", path + "/secret", as_user="a_pub"))[0] == 403
    assert (await control.call("DELETE", path, as_user="a_dev"))[0] == 204
