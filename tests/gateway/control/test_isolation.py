"""Tenant isolation, resource by resource: another institution's objects answer 404 (as if absent),
a unit never sees its ministry, a ministry administers its units. 403 is for roles, inside the scope."""

from __future__ import annotations

from tests.gateway.control.conftest import Control


async def test_tenants(control: Control) -> None:
    a, b, unit = control.tenants["a"], control.tenants["b"], control.tenants["unit"]
    assert (await control.call("GET", f"/tenants/{a}", as_user="b_admin"))[0] == 404
    assert (await control.call("GET", f"/tenants/{a}", as_user="u_admin"))[0] == 404  # a unit does not see up
    assert (await control.call("GET", f"/tenants/{unit}", as_user="a_pub"))[0] == 200  # a ministry sees down
    status, page = await control.call("GET", "/tenants", as_user="b_admin")
    assert status == 200 and [t["slug"] for t in page["items"]] == ["kemenkes"]
    status, page = await control.call("GET", f"/tenants?parent_id={a}", as_user="b_admin")
    assert status == 200 and page["items"] == []
    for method, kwargs in (("PUT", {"json": {"name": "Taken"}}), ("DELETE", {})):
        assert (await control.call(method, f"/tenants/{b}", as_user="a_admin", **kwargs))[0] == 403
    assert (await control.call("GET", f"/tenants/{b}", as_user="root"))[0] == 200


async def test_institution_profile(control: Control) -> None:
    status, mine = await control.call("GET", "/myaccount/institution/profile", as_user="b_pub")
    assert status == 200 and mine["slug"] == "kemenkes"
    status, _ = await control.call("PUT", "/myaccount/institution/profile", as_user="b_admin", json={"phone": "1500"})
    assert status == 200
    status, other = await control.call("GET", "/myaccount/institution/profile", as_user="a_admin")
    assert other["slug"] == "bappenas" and other["phone"] is None


async def test_internal_units(control: Control) -> None:
    a, b, unit = control.tenants["a"], control.tenants["b"], control.tenants["unit"]
    status, page = await control.call("GET", f"/institutions/{a}/internal", as_user="a_dev")
    assert status == 200 and [t["slug"] for t in page["items"]] == ["bappenas-pusdatin"]
    assert (await control.call("GET", f"/institutions/{a}/internal/{unit}", as_user="a_dev"))[0] == 200
    assert (await control.call("GET", f"/institutions/{a}/internal", as_user="b_admin"))[0] == 404
    assert (await control.call("GET", f"/institutions/{a}/internal/{unit}", as_user="b_admin"))[0] == 404
    assert (await control.call("GET", f"/institutions/{b}/internal/{unit}", as_user="root"))[0] == 404  # not b's unit
    assert (await control.call("GET", f"/institutions/{a}/internal", as_user="u_admin"))[0] == 404
    assert (await control.call("GET", "/institutions/missing/internal", as_user="root"))[0] == 404


async def test_institution_users(control: Control) -> None:
    a_pub, b_pub = control.users["a_pub"], control.users["b_pub"]
    status, page = await control.call("GET", "/institution-users", as_user="b_admin")
    assert status == 200 and sorted(u["username"] for u in page["items"]) == ["b_admin", "b_pub"]
    assert (await control.call("GET", f"/institution-users?tenant_id={control.tenants['a']}", as_user="b_admin"))[
        0
    ] == 404
    status, page = await control.call(
        "GET", f"/institution-users?tenant_id={control.tenants['unit']}", as_user="a_admin"
    )
    assert status == 200 and [u["username"] for u in page["items"]] == ["u_admin"]
    for method, kwargs in (("GET", {}), ("PUT", {"json": {"full_name": "X"}}), ("DELETE", {})):
        status, body = await control.call(method, f"/institution-users/{a_pub}", as_user="b_admin", **kwargs)
        assert status == 404 and body["code"] == 801404, method
    status, body = await control.call(
        "POST",
        "/institution-users",
        as_user="b_admin",
        json={"username": "mole", "password": "long enough pw", "role": "publisher", "tenant_id": control.tenants["a"]},
    )
    assert status == 422 and body["errors"][0]["loc"] == ["body", "tenant_id"]
    assert (await control.call("GET", f"/institution-users/{b_pub}", as_user="a_admin"))[0] == 404
    status, user = await control.call("GET", f"/institution-users/{a_pub}", as_user="a_pub")
    assert status == 200 and user["full_name"] == ""  # unchanged by b's attempts
    assert (await control.call("GET", f"/institution-users/{control.users['u_admin']}", as_user="a_aud"))[0] == 200


async def test_audit_log(control: Control) -> None:
    await control.call("PUT", "/myaccount/institution/profile", as_user="a_admin", json={"description": "A private"})
    await control.call("PUT", "/myaccount/institution/profile", as_user="b_admin", json={"description": "B private"})
    status, page = await control.call("GET", "/audit?object_type=tenant", as_user="b_admin")
    assert status == 200
    assert {e["tenant_id"] for e in page["items"]} == {control.tenants["b"]}
    status, page = await control.call("GET", "/audit?object_type=tenant", as_user="a_aud")
    assert {e["tenant_id"] for e in page["items"]} <= {control.tenants["a"], control.tenants["unit"]}
    assert page["items"][0]["after"]["description"] == "A private" and page["items"][0]["actor_name"] == "a_admin"
    assert (await control.call("GET", "/audit", as_user="a_pub"))[0] == 403
    status, page = await control.call("GET", "/audit?limit=1", as_user="root")
    assert status == 200 and len(page["items"]) == 1
