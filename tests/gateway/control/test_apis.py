"""APIs through the control API: roles, 422 field problems, 409 duplicates and lifecycle, tenant
isolation on every route, new versions, the catalog (signed-in and anonymous) and the dashboard."""

from __future__ import annotations

from typing import Any

from tests.gateway.control.conftest import Control


def body(context: str = "/bappenas/pegawai", **extra: Any) -> dict[str, Any]:
    return {
        "name": "Pegawai",
        "context": context,
        "version": "v1",
        "description": "Data kepegawaian",
        "tags": ["asn"],
        "backend": {"endpoints": ["http://10.1.2.3:9000"]},
        "resources": ["GET /pegawai/{nip}"],
        **extra,
    }


async def create(control: Control, user: str, **extra: Any) -> dict[str, Any]:
    status, api = await control.call("POST", "/apis", as_user=user, json=body(**extra))
    assert status == 201, api
    return api  # type: ignore[no-any-return]


async def act(control: Control, user: str, api_id: str, action: str) -> tuple[int, Any]:
    return await control.call("POST", f"/apis/{api_id}/lifecycle", as_user=user, json={"action": action})


async def test_create_read_update_delete(control: Control) -> None:
    api = await create(control, "a_pub")
    assert (api["status"], api["tenant"], api["created_by"]) == ("CREATED", "bappenas", control.users["a_pub"])
    assert (api["visibility"], api["classification"], api["groups"]) == ("tenant", "internal", ["default"])
    status, again = await control.call("GET", f"/apis/{api['id']}", as_user="a_dev")
    assert status == 200 and again == api
    status, changed = await control.call(
        "PUT", f"/apis/{api['id']}", as_user="a_admin", json={"description": "Baru", "tags": ["asn", "hr"]}
    )
    assert status == 200 and (changed["description"], changed["tags"]) == ("Baru", ["asn", "hr"])
    status, trail = await control.call("GET", f"/audit?object_type=api&object_id={api['id']}", as_user="a_aud")
    assert [e["action"] for e in trail["items"]] == ["api.update", "api.create"]
    assert trail["items"][0]["before"]["description"] == "Data kepegawaian"
    assert trail["items"][0]["actor_name"] == "a_admin"
    assert (await control.call("DELETE", f"/apis/{api['id']}", as_user="a_pub"))[0] == 204
    assert (await control.call("GET", f"/apis/{api['id']}", as_user="a_pub"))[0] == 404
    # a ministry's publisher registers for its unit; the unit's admin manages it
    unit_api = await create(control, "a_pub", context="/pusdatin/x", tenant_id=control.tenants["unit"])
    assert unit_api["tenant"] == "bappenas-pusdatin"
    assert (await control.call("PUT", f"/apis/{unit_api['id']}", as_user="u_admin", json={"name": "X"}))[0] == 200


async def test_validation_and_duplicates(control: Control) -> None:
    status, problem = await control.call(
        "POST",
        "/apis",
        as_user="a_pub",
        json=body(backend={"endpoints": ["ftp://x"]}, resources=["FETCH /x"], visibility="secretive"),
    )
    assert status == 422
    locs = {tuple(e["loc"]) for e in problem["errors"]}
    assert {
        ("body", "backend", "endpoints", 0, "url"),
        ("body", "resources", 0, "methods"),
        ("body", "visibility"),
    } <= locs
    status, problem = await control.call("POST", "/apis", as_user="a_pub", json=body(context="bad context"))
    assert status == 422 and problem["errors"][0]["loc"] == ["body", "context"]
    for reserved in ("/_health", "/oauth2", "/.well-known/x"):  # the gateway answers these paths itself
        status, problem = await control.call("POST", "/apis", as_user="a_pub", json=body(context=reserved))
        assert status == 422 and problem["errors"][0]["loc"] == ["body", "context"], problem
        assert "collides with the gateway's own paths" in problem["errors"][0]["msg"]
    status, problem = await control.call(
        "POST", "/apis", as_user="a_pub", json=body(policies=[{"throttle": {"limits": ["10/minit"]}}])
    )
    assert status == 422 and problem["errors"][0]["loc"][:4] == ["body", "policies", 0, "throttle"]
    await create(control, "a_pub")
    status, problem = await control.call("POST", "/apis", as_user="b_pub", json=body())
    assert status == 409 and problem["code"] == 801409 and "context" in problem["detail"]
    assert (await control.call("GET", "/apis", as_user="root"))[1]["items"][0]["tenant"] == "bappenas"


async def test_roles(control: Control) -> None:
    for user in ("a_dev", "a_aud"):
        assert (await control.call("POST", "/apis", as_user=user, json=body()))[0] == 403
    api = await create(control, "a_pub")
    for user in ("a_dev", "a_aud"):
        assert (await control.call("PUT", f"/apis/{api['id']}", as_user=user, json={"name": "N"}))[0] == 403
        assert (await act(control, user, api["id"], "publish"))[0] == 403
        assert (await control.call("GET", f"/apis/{api['id']}", as_user=user))[0] == 200
    assert (await act(control, "a_pub", api["id"], "publish"))[0] == 200
    status, problem = await act(control, "a_pub", api["id"], "block")
    assert status == 403 and "tenant_admin" in problem["detail"]
    assert (await act(control, "a_admin", api["id"], "block"))[0] == 200
    assert (await act(control, "root", api["id"], "unblock"))[1]["status"] == "PUBLISHED"


async def test_isolation_on_every_route(control: Control) -> None:
    """b (kemenkes) cannot see a's tenant-only API at all, and cannot change a's public or shared API."""
    private = await create(control, "a_pub", context="/a/private")
    public = await create(control, "a_pub", context="/a/public", visibility="public")
    restricted = await create(
        control, "a_pub", context="/a/shared", visibility="restricted", visible_tenants=[control.tenants["b"]]
    )
    routes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "", None),
        ("PUT", "", {"name": "Taken over"}),
        ("DELETE", "", None),
        ("POST", "/lifecycle", {"action": "publish"}),
        ("POST", "/versions", {"version": "v9"}),
    ]
    for method, tail, payload in routes:
        kwargs = {"json": payload} if payload is not None else {}
        status, problem = await control.call(method, f"/apis/{private['id']}{tail}", as_user="b_admin", **kwargs)
        assert status == 404 and problem["code"] == 801404, (method, tail)
        expected = 200 if method == "GET" else 403
        # the ministry's unit sees its tenant-only API (visibility "tenant": owner and units) but cannot change it
        assert (await control.call(method, f"/apis/{private['id']}{tail}", as_user="u_admin", **kwargs))[0] == expected
        for api in (public, restricted):
            assert (await control.call(method, f"/apis/{api['id']}{tail}", as_user="b_pub", **kwargs))[0] == expected
    status, seen = await control.call("GET", f"/apis/{public['id']}", as_user="b_pub")
    assert seen["backend"] is None and seen["policies"] is None and seen["name"] == "Pegawai"
    status, page = await control.call("GET", "/apis", as_user="b_pub")
    assert sorted(a["context"] for a in page["items"]) == ["/a/public", "/a/shared"]
    status, page = await control.call("GET", f"/apis?tenant_id={control.tenants['a']}", as_user="u_admin")
    assert [a["context"] for a in page["items"]] == ["/a/private", "/a/public"]
    status, problem = await control.call(
        "POST", "/apis", as_user="b_pub", json=body(context="/x", tenant_id=control.tenants["a"])
    )
    assert status == 422 and problem["errors"][0]["loc"] == ["body", "tenant_id"]
    assert (await control.call("GET", "/apis?status=NOPE", as_user="a_pub"))[0] == 422
    status, mine = await control.call("GET", f"/apis/{private['id']}", as_user="a_dev")
    assert status == 200 and mine["name"] == "Pegawai" and mine["backend"] is not None  # unchanged by b


async def test_lifecycle_and_versions(control: Control) -> None:
    api = await create(control, "a_pub")
    status, problem = await act(control, "a_pub", api["id"], "retire")
    assert status == 409 and problem["allowed"] == ["publish"] and "allowed: publish" in problem["detail"]
    assert (await act(control, "a_pub", api["id"], "fly"))[0] == 422
    assert (await act(control, "a_pub", api["id"], "publish"))[1]["status"] == "PUBLISHED"
    assert (await control.call("DELETE", f"/apis/{api['id']}", as_user="a_pub"))[0] == 409
    status, v2 = await control.call("POST", f"/apis/{api['id']}/versions", as_user="a_pub", json={"version": "v2"})
    assert status == 201 and (v2["version"], v2["status"], v2["context"]) == ("v2", "CREATED", api["context"])
    status, problem = await control.call("POST", f"/apis/{api['id']}/versions", as_user="a_pub", json={"version": "v2"})
    assert status == 409
    for action, state in (("deprecate", "DEPRECATED"), ("block", "BLOCKED"), ("unblock", "DEPRECATED")):
        status, changed = await act(control, "a_admin", api["id"], action)
        assert (status, changed["status"]) == (200, state)
    status, changed = await act(control, "a_pub", api["id"], "retire")
    assert changed["status"] == "RETIRED"
    status, problem = await act(control, "a_pub", api["id"], "publish")
    assert status == 409 and problem["allowed"] == []
    assert (await control.call("DELETE", f"/apis/{api['id']}", as_user="a_pub"))[0] == 204


async def test_catalog_search_and_public_view(control: Control) -> None:
    specs = [
        ("a_pub", "/a/kesehatan", {"visibility": "public", "tags": ["kesehatan"], "name": "Rumah Sakit"}),
        ("a_pub", "/a/pajak", {"visibility": "public", "tags": ["pajak"], "description": "Wajib pajak daerah"}),
        ("a_pub", "/a/internal", {"visibility": "tenant"}),
        ("b_pub", "/b/vaksin", {"visibility": "public", "tags": ["kesehatan"], "name": "Vaksin"}),
        ("b_pub", "/b/draft", {"visibility": "public"}),  # stays CREATED
    ]
    made = {}
    for user, context, extra in specs:
        made[context] = await create(control, user, context=context, **extra)
        if context != "/b/draft":
            assert (await act(control, user, made[context]["id"], "publish"))[0] == 200
    await act(control, "a_pub", made["/a/pajak"]["id"], "deprecate")

    async def contexts(path: str, user: str | None = None) -> tuple[list[str], dict[str, Any]]:
        status, page = await control.call("GET", path, as_user=user)
        assert status == 200, page
        return [e["context"] for e in page["items"]], page

    found, page = await contexts("/catalog", "a_dev")
    assert sorted(found) == ["/a/internal", "/a/kesehatan", "/a/pajak", "/b/vaksin"]
    assert (page["total"], page["page"], page["pages"]) == (4, 1, 1)
    assert "backend" not in page["items"][0]
    found, _ = await contexts("/catalog", "b_pub")
    assert sorted(found) == ["/a/kesehatan", "/a/pajak", "/b/vaksin"]
    found, page = await contexts("/catalog?per_page=2&page=2", "a_dev")
    assert len(found) == 2 and (page["total"], page["pages"], page["per_page"]) == (4, 2, 2)
    assert (await contexts("/catalog?tag=kesehatan", "b_pub"))[0] == ["/a/kesehatan", "/b/vaksin"]
    assert (await contexts("/catalog?q=WAJIB", "b_pub"))[0] == ["/a/pajak"]
    assert (await contexts("/catalog?tenant=kemenkes", "a_dev"))[0] == ["/b/vaksin"]
    found, page = await contexts("/public/catalog")  # anonymous: published + public only
    assert found == ["/a/kesehatan", "/b/vaksin"] and page["total"] == 2
    assert page["items"][0]["tenant_name"] == "Bappenas" and "backend" not in page["items"][0]
    assert (await contexts("/public/catalog?q=vaksin&tenant=kemenkes"))[0] == ["/b/vaksin"]
    assert (await control.call("GET", "/public/catalog?per_page=1000"))[0] == 422
    assert (await control.call("GET", "/catalog"))[0] == 401


async def test_dashboard(control: Control) -> None:
    for user, context in (("a_pub", "/a/1"), ("a_pub", "/a/2"), ("b_pub", "/b/1")):
        api = await create(control, user, context=context)
        if context != "/a/2":
            await act(control, user, api["id"], "publish")
    await create(control, "u_admin", context="/u/1")
    status, national = await control.call("GET", "/dashboard/stats", as_user="root")
    assert status == 200 and national["scope"] == "national"
    assert (national["apis_published"], national["apis_created"], national["total_apis"]) == (2, 2, 4)
    assert (national["total_users"], national["total_tenants"]) == (8, 4)
    per = {row["tenant"]: (row["published"], row["total"]) for row in national["apis_per_institution"]}
    assert per == {"bappenas": (1, 2), "kemenkes": (1, 1), "bappenas-pusdatin": (0, 1)}
    status, mine = await control.call("GET", "/dashboard/stats", as_user="a_admin")
    assert mine["scope"] == "bappenas" and (mine["apis_published"], mine["apis_created"]) == (1, 2)
    assert (mine["total_users"], mine["total_tenants"]) == (5, 2)
    assert {row["tenant"] for row in mine["apis_per_institution"]} == {"bappenas", "bappenas-pusdatin"}
    status, other = await control.call("GET", "/dashboard/stats", as_user="b_admin")
    assert (other["apis_published"], other["total_users"], other["total_tenants"]) == (1, 2, 1)
    assert (await control.call("GET", "/dashboard/stats", as_user="a_aud"))[1]["scope"] == "bappenas"
    assert (await control.call("GET", "/dashboard/stats", as_user="a_pub"))[0] == 403
    # active visitors: users seen in the last 15 minutes, in the caller's scope
    assert national["active_visitors"] == 4  # a_pub, b_pub, u_admin, root had been seen by then
    _, later = await control.call("GET", "/dashboard/stats", as_user="root")
    assert later["active_visitors"] == 7
    _, mine = await control.call("GET", "/dashboard/stats", as_user="a_admin")
    assert mine["active_visitors"] == 4  # a_pub, u_admin, a_admin, a_aud: my subtree only
