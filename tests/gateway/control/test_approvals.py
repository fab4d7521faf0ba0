"""The approval workflow through the control API: settings per tenant (admins), each kind required and
not, the queue of the deciding tenant, approve / reject with a reason, isolation, and a published API
that keeps serving its old definition while an update waits."""

from __future__ import annotations

from typing import Any

from gateway.catalog.export import published_api_configs
from tests.gateway.control.conftest import Control
from tests.gateway.control.consumers import catalog, new_app, published_api
from tests.gateway.control.test_apis import act, create


async def require(control: Control, admin: str, tenant: str, **flags: bool) -> dict[str, Any]:
    status, settings = await control.call(
        "PUT", f"/tenants/{control.tenants[tenant]}/approval-settings", as_user=admin, json=flags
    )
    assert status == 200, settings
    return settings  # type: ignore[no-any-return]


async def pending(control: Control, admin: str) -> list[dict[str, Any]]:
    status, page = await control.call("GET", "/approvals?status=PENDING", as_user=admin)
    assert status == 200, page
    return page["items"]  # type: ignore[no-any-return]


async def test_settings(control: Control) -> None:
    a = control.tenants["a"]
    status, settings = await control.call("GET", f"/tenants/{a}/approval-settings", as_user="a_dev")
    assert status == 200 and not any(settings[k] for k in ("api_state_change", "api_update", "subscription"))
    assert (await control.call("PUT", f"/tenants/{a}/approval-settings", as_user="a_pub", json={"api_update": True}))[
        0
    ] == 403
    for user in ("b_admin", "u_admin"):
        assert (await control.call("PUT", f"/tenants/{a}/approval-settings", as_user=user, json={}))[0] == 404
        assert (await control.call("GET", f"/tenants/{a}/approval-settings", as_user=user))[0] == 404
    settings = await require(control, "a_admin", "a", api_update=True)
    assert settings["api_update"] and not settings["subscription"]
    assert (await require(control, "root", "a", subscription=True))["api_update"]
    status, problem = await control.call(
        "PUT", f"/tenants/{a}/approval-settings", as_user="a_admin", json={"everything": True}
    )
    assert status == 422
    assert (await control.call("GET", "/tenants/missing/approval-settings", as_user="root"))[0] == 404


async def test_application_creation(control: Control) -> None:
    assert (await new_app(control, "b_pub", name="Before"))["status"] == "ACTIVE"  # not required
    await require(control, "b_admin", "b", application_creation=True)
    app = await new_app(control, "b_pub", name="After")
    assert app["status"] == "PENDING_APPROVAL" and app["client_secret"]
    (request,) = await pending(control, "b_admin")
    assert (request["kind"], request["object_id"], request["requested_by_name"]) == (
        "application_creation",
        app["id"],
        "b_pub",
    )
    assert await pending(control, "a_admin") == []
    assert (await control.call("POST", f"/approvals/{request['id']}/approve", as_user="a_admin", json={}))[0] == 404
    assert (await control.call("GET", f"/approvals/{request['id']}", as_user="a_admin"))[0] == 404
    assert (await control.call("POST", f"/approvals/{request['id']}/approve", as_user="b_pub", json={}))[0] == 403
    status, decided = await control.call(
        "POST", f"/approvals/{request['id']}/approve", as_user="b_admin", json={"reason": "known project"}
    )
    assert status == 200 and (decided["status"], decided["decided_by_name"], decided["reason"]) == (
        "APPROVED",
        "b_admin",
        "known project",
    )
    assert (await control.call("GET", f"/applications/{app['id']}", as_user="b_pub"))[1]["status"] == "ACTIVE"
    assert (await control.call("POST", f"/approvals/{request['id']}/reject", as_user="b_admin", json={"reason": "x"}))[
        0
    ] == 409
    status, page = await control.call("GET", "/audit?object_type=approval", as_user="b_admin")
    assert [e["action"] for e in page["items"]] == ["approval.approve", "approval.request"]


async def test_subscription_rejected_with_reason(control: Control) -> None:
    api = await published_api(control)
    app = await new_app(control, "b_pub")
    await require(control, "a_admin", "a", subscription=True)
    status, sub = await control.call(
        "POST", "/subscriptions", as_user="b_pub", json={"application_id": app["id"], "api_id": api["id"]}
    )
    assert status == 201 and sub["status"] == "PENDING_APPROVAL"
    assert await pending(control, "b_admin") == []  # the API owner decides
    (request,) = await pending(control, "a_admin")
    assert request["payload"]["api"] == "/bappenas/pegawai/v1"
    status, problem = await control.call("POST", f"/approvals/{request['id']}/reject", as_user="a_admin", json={})
    assert status == 422 and problem["errors"][0]["loc"] == ["body", "reason"]
    status, decided = await control.call(
        "POST", f"/approvals/{request['id']}/reject", as_user="a_admin", json={"reason": "no data sharing agreement"}
    )
    assert status == 200 and (decided["status"], decided["reason"]) == ("REJECTED", "no data sharing agreement")
    status, seen = await control.call("GET", f"/subscriptions/{sub['id']}", as_user="b_pub")
    assert seen["status"] == "REJECTED"
    status, page = await control.call("GET", "/approvals?status=REJECTED&kind=subscription", as_user="a_aud")
    assert [r["id"] for r in page["items"]] == [request["id"]]
    assert (await control.call("GET", "/approvals?status=rejected", as_user="a_aud"))[0] == 422
    assert (await control.call("GET", "/approvals", as_user="a_dev"))[0] == 403


async def test_api_state_change(control: Control) -> None:
    api = await create(control, "a_pub", visibility="public")
    await require(control, "a_admin", "a", api_state_change=True)
    status, request = await act(control, "a_pub", api["id"], "publish")
    assert status == 202 and (request["kind"], request["payload"]["action"]) == ("api_state_change", "publish")
    assert (await control.call("GET", f"/apis/{api['id']}", as_user="a_pub"))[1]["status"] == "CREATED"
    status, problem = await act(control, "a_pub", api["id"], "publish")
    assert status == 409 and problem["approval_id"] == request["id"]
    status, problem = await act(control, "a_pub", api["id"], "retire")
    assert status == 409 and problem["allowed"] == ["publish"]  # refused at once, nothing queued
    status, _ = await control.call("POST", f"/approvals/{request['id']}/approve", as_user="a_admin", json={})
    assert status == 200
    assert (await control.call("GET", f"/apis/{api['id']}", as_user="a_pub"))[1]["status"] == "PUBLISHED"
    status, blocked = await act(control, "a_admin", api["id"], "block")  # an administrator's action never waits
    assert status == 200 and blocked["status"] == "BLOCKED"


async def test_api_update_keeps_old_definition_until_approved(control: Control, store_uri: str) -> None:
    api = await published_api(control)
    await require(control, "a_admin", "a", api_update=True)
    change = {"backend": {"endpoints": ["http://10.9.9.9:8080"]}, "description": "new backend"}
    status, request = await control.call("PUT", f"/apis/{api['id']}", as_user="a_pub", json=change)
    assert status == 202 and request["kind"] == "api_update" and request["payload"]["description"] == "new backend"
    status, current = await control.call("GET", f"/apis/{api['id']}", as_user="a_pub")
    assert current["description"] == "Data kepegawaian" and current["backend"] == api["backend"]
    async with catalog(store_uri) as store:
        (served,) = await published_api_configs(store)
    assert [str(e.url) for e in served.backend.endpoints] == ["http://10.1.2.3:9000"]
    draft = await create(control, "a_pub", context="/bappenas/draft")
    status, direct = await control.call("PUT", f"/apis/{draft['id']}", as_user="a_pub", json={"description": "d"})
    assert status == 200 and direct["description"] == "d"  # not served: no approval needed
    status, problem = await control.call("PUT", f"/apis/{api['id']}", as_user="a_pub", json={"resources": ["FETCH /x"]})
    assert status == 422  # checked when asked, not when approved
    status, _ = await control.call(
        "POST", f"/approvals/{request['id']}/approve", as_user="a_admin", json={"reason": "reviewed"}
    )
    assert status == 200
    async with catalog(store_uri) as store:
        (served,) = await published_api_configs(store)
    assert [str(e.url) for e in served.backend.endpoints] == ["http://10.9.9.9:8080"]
    status, trail = await control.call("GET", f"/audit?object_type=api&object_id={api['id']}&limit=1", as_user="a_aud")
    assert trail["items"][0]["action"] == "api.update" and trail["items"][0]["actor_name"] == "a_admin"


async def test_four_eyes_the_requester_cannot_approve(control: Control) -> None:
    await require(control, "b_admin", "b", application_creation=True, four_eyes=True)
    own = await new_app(control, "b_admin", name="Mine")
    other = await new_app(control, "b_pub", name="Theirs")
    requests = {r["object_id"]: r for r in await pending(control, "b_admin")}
    mine, theirs = requests[own["id"]], requests[other["id"]]
    status, problem = await control.call("POST", f"/approvals/{mine['id']}/approve", as_user="b_admin", json={})
    assert status == 403 and "four-eyes" in problem["detail"]
    assert (await control.call("GET", f"/approvals/{mine['id']}", as_user="b_admin"))[1]["status"] == "PENDING"
    assert (await control.call("POST", f"/approvals/{theirs['id']}/approve", as_user="b_admin", json={}))[0] == 200
    status, decided = await control.call("POST", f"/approvals/{mine['id']}/approve", as_user="root", json={})
    assert status == 200 and decided["decided_by_name"] == "root"
    await require(control, "b_admin", "b", four_eyes=False)  # off again: one's own request may be approved
    again = await new_app(control, "b_admin", name="Again")
    (request,) = [r for r in await pending(control, "b_admin") if r["object_id"] == again["id"]]
    assert (await control.call("POST", f"/approvals/{request['id']}/approve", as_user="b_admin", json={}))[0] == 200
