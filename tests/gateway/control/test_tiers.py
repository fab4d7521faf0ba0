"""Tiers through the control API: super admins write, every signed-in user reads, bad rates are 422."""

from __future__ import annotations

from tests.gateway.control.conftest import Control


async def test_tiers_roles_validation_and_listing(control: Control) -> None:
    body = {"requests": "6000/minute", "burst": "100/second", "description": "gold"}
    status, tier = await control.call("PUT", "/tiers/subscription/Gold", as_user="root", json=body)
    assert status == 200 and tier["name"] == "Gold" and tier["kind"] == "subscription"
    assert (await control.call("PUT", "/tiers/subscription/Gold", as_user="a_admin", json=body))[0] == 403
    assert (await control.call("PUT", "/tiers/subscription/Gold", json=body))[0] == 401

    status, problem = await control.call("PUT", "/tiers/application/Bad", as_user="root", json={"requests": "x"})
    assert status == 422 and "requests" in str(problem)
    status, problem = await control.call("PUT", "/tiers/premium/Gold", as_user="root", json=body)
    assert status == 422 and "kind" in str(problem)

    await control.call("PUT", "/tiers/application/Partner", as_user="root", json={"requests": "300/minute"})
    status, page = await control.call("GET", "/tiers", as_user="a_dev")  # any signed-in user reads
    assert status == 200 and [(t["kind"], t["name"]) for t in page["items"]] == [
        ("application", "Partner"),
        ("subscription", "Gold"),
    ]
    status, page = await control.call("GET", "/tiers?kind=application", as_user="a_dev")
    assert [t["name"] for t in page["items"]] == ["Partner"]

    assert (await control.call("DELETE", "/tiers/application/Partner", as_user="a_admin"))[0] == 403
    assert (await control.call("DELETE", "/tiers/application/Partner", as_user="root"))[0] == 204
    assert (await control.call("DELETE", "/tiers/application/Partner", as_user="root"))[0] == 404
    status, audit = await control.call("GET", "/audit?object_type=tier", as_user="root")
    assert status == 200
