"""Roles, validation (422 with field problems), duplicates (409) and the audit trail through the API."""

from __future__ import annotations

import io

from tests.gateway.control.conftest import PASSWORD, Control


async def test_my_profile(control: Control) -> None:
    status, me = await control.call(
        "PUT", "/myaccount/profile", as_user="a_dev", json={"full_name": "Dewi", "email": "dewi@bappenas.go.id"}
    )
    assert status == 200 and (me["full_name"], me["email"], me["role"]) == ("Dewi", "dewi@bappenas.go.id", "subscriber")
    status, body = await control.call(
        "PUT", "/myaccount/profile", as_user="a_dev", json={"email": "not-an-email", "role": "super_admin"}
    )
    assert status == 422 and body["code"] == 801422 and body["status"] == 422
    assert sorted(tuple(e["loc"]) for e in body["errors"]) == [("body", "email"), ("body", "role")]
    status, body = await control.call(
        "PUT", "/myaccount/change-password", as_user="a_dev", json={"current_password": "nope", "new_password": "short"}
    )
    assert status == 422 and body["errors"][0]["loc"] == ["body", "new_password"]
    status, body = await control.call(
        "PUT",
        "/myaccount/change-password",
        as_user="a_dev",
        json={"current_password": "wrong one", "new_password": "a fine new password"},
    )
    assert status == 422 and body["errors"][0]["loc"] == ["body", "current_password"]


async def test_institution_profile_roles(control: Control) -> None:
    status, body = await control.call("PUT", "/myaccount/institution/profile", as_user="a_pub", json={"phone": "1"})
    assert status == 403 and body["code"] == 801403
    status, body = await control.call("PUT", "/myaccount/institution/profile", as_user="a_aud", json={"phone": "1"})
    assert status == 403
    status, tenant = await control.call(
        "PUT", "/myaccount/institution/profile", as_user="a_admin", json={"website": "https://bappenas.go.id"}
    )
    assert status == 200 and tenant["website"] == "https://bappenas.go.id" and tenant["name"] == "Bappenas"
    status, body = await control.call("PUT", "/myaccount/institution/profile", as_user="a_admin", json={"slug": "x"})
    assert status == 422 and body["errors"][0]["type"] == "extra_forbidden"


async def test_user_lifecycle(control: Control) -> None:
    new = {"username": "Siti", "password": "a long password", "role": "publisher", "email": "siti@bappenas.go.id"}
    status, user = await control.call("POST", "/institution-users", as_user="a_admin", json=new)
    assert status == 201 and user["username"] == "siti" and user["tenant_id"] == control.tenants["a"]
    status, body = await control.call("POST", "/institution-users", as_user="a_admin", json=new)
    assert status == 409 and body["code"] == 801409 and "username" in body["detail"]
    status, body = await control.call("POST", "/institution-users", as_user="a_pub", json={**new, "username": "x2"})
    assert status == 403
    status, body = await control.call(
        "POST", "/institution-users", as_user="a_admin", json={"username": "!", "password": "x", "role": "king"}
    )
    assert status == 422 and sorted(e["loc"][1] for e in body["errors"]) == ["password", "role", "username"]
    status, body = await control.call(
        "POST", "/institution-users", as_user="a_admin", json={**new, "username": "boss", "role": "super_admin"}
    )
    assert status == 403
    status, sub = await control.call(
        "POST",
        "/institution-users",
        as_user="a_admin",
        json={**new, "username": "unit-pub", "tenant_id": control.tenants["unit"]},
    )
    assert status == 201 and sub["tenant_id"] == control.tenants["unit"]

    status, login = await control.call("POST", "/auth/token", json={"username": "siti", "password": "a long password"})
    assert status == 200
    assert (await control.call("PUT", f"/institution-users/{user['id']}", as_user="a_aud", json={"full_name": "S"}))[
        0
    ] == 403
    status, changed = await control.call(
        "PUT", f"/institution-users/{user['id']}", as_user="a_admin", json={"full_name": "Siti N", "role": "subscriber"}
    )
    assert status == 200 and (changed["full_name"], changed["role"]) == ("Siti N", "subscriber")
    status, _ = await control.call(
        "PUT", f"/institution-users/{user['id']}", as_user="a_admin", json={"password": "reset by admin!"}
    )
    assert status == 200
    assert (await control.call("GET", "/myaccount/profile", token=login["access_token"]))[0] == 401

    me = control.users["a_admin"]
    status, body = await control.call("PUT", f"/institution-users/{me}", as_user="a_admin", json={"role": "auditor"})
    assert status == 409
    assert (await control.call("DELETE", f"/institution-users/{me}", as_user="a_admin"))[0] == 409
    assert (await control.call("DELETE", f"/institution-users/{control.users['root']}", as_user="root"))[0] == 409
    assert (
        await control.call(
            "PUT", f"/institution-users/{control.users['a_admin']}", as_user="root", json={"role": "super_admin"}
        )
    )[0] == 200
    assert (await control.call("DELETE", f"/institution-users/{control.users['a_admin']}", as_user="u_admin"))[0] == 404

    assert (await control.call("DELETE", f"/institution-users/{user['id']}", as_user="a_admin"))[0] == 204
    assert (await control.call("GET", f"/institution-users/{user['id']}", as_user="a_admin"))[0] == 404
    status, page = await control.call("GET", f"/audit?object_id={user['id']}", as_user="a_aud")
    assert [e["action"] for e in page["items"]] == ["user.delete", "user.password", "user.update", "user.create"]
    assert page["items"][-1]["actor_name"] == "a_admin" and page["items"][0]["before"]["username"] == "siti"


async def test_tenant_crud(control: Control) -> None:
    body = {"slug": "jabar", "name": "Jawa Barat", "kind": "province", "parent_id": control.tenants["nat"]}
    assert (await control.call("POST", "/tenants", as_user="a_admin", json=body))[0] == 403
    status, jabar = await control.call("POST", "/tenants", as_user="root", json=body)
    assert status == 201 and jabar["slug"] == "jabar"
    assert (await control.call("POST", "/tenants", as_user="root", json=body))[0] == 409
    status, err = await control.call("POST", "/tenants", as_user="root", json={**body, "slug": "Bad Slug", "kind": "x"})
    assert status == 422 and sorted(e["loc"][1] for e in err["errors"]) == ["kind", "slug"]
    status, err = await control.call(
        "POST", "/tenants", as_user="root", json={**body, "slug": "bdg", "parent_id": "nope"}
    )
    assert status == 422 and err["errors"][0]["loc"] == ["body", "parent_id"]
    status, changed = await control.call("PUT", f"/tenants/{jabar['id']}", as_user="root", json={"active": False})
    assert status == 200 and changed["active"] is False
    assert (await control.call("DELETE", f"/tenants/{control.tenants['a']}", as_user="root"))[0] == 409
    assert (await control.call("DELETE", f"/tenants/{jabar['id']}", as_user="root"))[0] == 204
    assert (await control.call("GET", f"/tenants/{jabar['id']}", as_user="root"))[0] == 404
    status, page = await control.call("GET", "/tenants?limit=2&offset=1", as_user="root")
    assert status == 200 and (page["limit"], page["offset"], len(page["items"])) == (2, 1, 2)
    status, err = await control.call("GET", "/tenants?limit=0&offset=x", as_user="root")
    assert status == 422 and sorted(e["loc"][1] for e in err["errors"]) == ["limit", "offset"]


async def test_inactive_tenant_locks_its_users_out(control: Control) -> None:
    token = await control.token("b_pub")
    assert (await control.call("PUT", f"/tenants/{control.tenants['b']}", as_user="root", json={"active": False}))[
        0
    ] == 200
    assert (await control.call("GET", "/myaccount/profile", token=token))[0] == 401
    assert (await control.call("POST", "/auth/token", json={"username": "b_pub", "password": PASSWORD}))[0] == 401
    status, body = await control.call(
        "PUT", f"/tenants/{control.tenants['nat']}", as_user="root", json={"active": False}
    )
    assert status == 409 and "your own institution" in body["detail"]


async def test_bad_bodies_and_routes(control: Control) -> None:
    status, body = await control.call(
        "PUT", "/myaccount/profile", as_user="a_dev", data=b"{nope", headers={"content-type": "application/json"}
    )
    assert status == 400 and body["code"] == 801400
    status, body = await control.call("PUT", "/myaccount/profile", as_user="a_dev", data=b"x=1")
    assert status == 415
    status, body = await control.call(
        "PUT", "/myaccount/profile", as_user="a_dev", data=b"[1]", headers={"content-type": "application/json"}
    )
    assert status == 422
    big = b'{"full_name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    status, body = await control.call(
        "PUT", "/myaccount/profile", as_user="a_dev", data=io.BytesIO(big), headers={"content-type": "application/json"}
    )
    assert status == 413
    status, body = await control.call("GET", "/no/such/route")
    assert status == 404 and body["code"] == 801404 and body["request_id"]
    status, body = await control.call("PATCH", "/myaccount/profile", as_user="a_dev")
    assert status == 405 and body["status"] == 405


async def test_nul_characters_are_refused_before_the_store(control: Control) -> None:
    """PostgreSQL text cannot hold NUL: every entry point answers 4xx instead of a store error."""
    status, body = await control.call("GET", "/catalog?q=a%00b", as_user="a_dev")
    assert status == 422 and body["errors"][0]["loc"] == ["query", "q"]
    status, body = await control.call("PUT", "/myaccount/profile", as_user="a_dev", json={"full_name": "a\u0000b"})
    assert status == 422 and "NUL" in body["errors"][0]["msg"]
    status, _ = await control.call("PUT", "/myaccount/profile", as_user="a_dev", json={"full_name": "a\\u0000b"})
    assert status == 200  # a backslash followed by "u0000" is plain text
    assert (await control.call("GET", "/institution-users/x%00y", as_user="a_admin"))[0] == 404
