"""Sign-in and tokens: one 401 for every bad credential, tokens die with a password change or deactivation."""

from __future__ import annotations

import asyncio
import os
import stat

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.control.tokens import AUDIENCE, ISSUER, LocalTokens
from tests.gateway.control.conftest import PASSWORD, Control


async def test_token_and_me(control: Control) -> None:
    status, body = await control.call("POST", "/auth/token", json={"username": "A_Admin", "password": PASSWORD})
    assert status == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 900
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["iss"], claims["aud"], claims["sub"], claims["role"]) == (
        ISSUER,
        AUDIENCE,
        control.users["a_admin"],
        "tenant_admin",
    )
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "EdDSA"
    status, me = await control.call("GET", "/myaccount/profile", token=body["access_token"])
    assert status == 200 and me["username"] == "a_admin" and "password_hash" not in me
    assert stat.S_IMODE(os.stat(control.key_path).st_mode) == 0o600


async def test_bad_credentials_look_alike(control: Control) -> None:
    answers = []
    for username, password in (("a_admin", "wrong password!"), ("nobody", PASSWORD)):
        status, body = await control.call("POST", "/auth/token", json={"username": username, "password": password})
        assert status == 401
        answers.append((body["code"], body["detail"], body["title"]))
        assert set(body) >= {"type", "title", "status", "detail", "code", "request_id"}
    assert answers[0] == answers[1] and answers[0][0] == 900901
    status, body = await control.call("POST", "/auth/token", json={"username": "a_admin"})
    assert status == 422 and body["errors"][0]["loc"] == ["body", "password"]


async def test_missing_and_bad_tokens(control: Control) -> None:
    status, body = await control.call("GET", "/myaccount/profile")
    assert status == 401 and body["code"] == 900902
    status, body = await control.call("GET", "/myaccount/profile", headers={"authorization": "Basic eDp5"})
    assert status == 401 and body["code"] == 900902
    good = await control.token("a_pub")
    head, payload, signature = good.split(".")
    forged = jwt.encode(
        {**jwt.decode(good, options={"verify_signature": False}), "sub": control.users["root"]},
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
    )
    for bad in ("garbage", f"{head}.{payload}.{signature[:-4]}AAAA", forged):
        status, body = await control.call("GET", "/myaccount/profile", token=bad)
        assert status == 401 and body["code"] == 900901, bad
    none_alg = jwt.encode({"sub": control.users["root"]}, None, algorithm="none")
    status, _ = await control.call("GET", "/myaccount/profile", token=none_alg)
    assert status == 401


async def test_expired_token(control: Control) -> None:
    expired = LocalTokens.from_file(control.key_path, expires_in=-120)
    token = await expired.issue(
        user_id=control.users["a_pub"], tenant_id=control.tenants["a"], role="publisher", session_version=1
    )
    status, _ = await control.call("GET", "/myaccount/profile", token=token)
    assert status == 401
    fresh = LocalTokens.from_file(control.key_path)
    token = await fresh.issue(
        user_id=control.users["a_pub"], tenant_id=control.tenants["a"], role="publisher", session_version=1
    )
    status, _ = await control.call("GET", "/myaccount/profile", token=token)
    assert status == 200  # the same key file signs for the running app


async def test_password_change_and_deactivation_end_sessions(control: Control) -> None:
    old = await control.token("a_pub")
    status, _ = await control.call(
        "PUT",
        "/myaccount/change-password",
        token=old,
        json={"current_password": PASSWORD, "new_password": "another long secret"},
    )
    assert status == 204
    status, _ = await control.call("GET", "/myaccount/profile", token=old)
    assert status == 401
    status, _ = await control.call("POST", "/auth/token", json={"username": "a_pub", "password": PASSWORD})
    assert status == 401
    status, body = await control.call(
        "POST", "/auth/token", json={"username": "a_pub", "password": "another long secret"}
    )
    assert status == 200

    dev = await control.token("a_dev")
    status, _ = await control.call(
        "PUT", f"/institution-users/{control.users['a_dev']}", as_user="a_admin", json={"active": False}
    )
    assert status == 200
    status, _ = await control.call("GET", "/myaccount/profile", token=dev)
    assert status == 401
    status, _ = await control.call("POST", "/auth/token", json={"username": "a_dev", "password": PASSWORD})
    assert status == 401


async def test_role_change_takes_effect_at_once(control: Control) -> None:
    token = await control.token("a_aud")
    status, _ = await control.call("GET", "/institution-users", token=token)
    assert status == 200
    status, _ = await control.call(
        "PUT", f"/institution-users/{control.users['a_aud']}", as_user="a_admin", json={"role": "subscriber"}
    )
    assert status == 200
    status, body = await control.call("GET", "/institution-users", token=token)
    assert status == 403 and body["code"] == 801403


async def test_concurrent_sign_ins(control: Control) -> None:
    results = await asyncio.gather(
        *(
            control.call("POST", "/auth/token", json={"username": u, "password": PASSWORD})
            for u in ("a_admin", "b_admin", "root", "u_admin")
        )
    )
    assert [status for status, _ in results] == [200, 200, 200, 200]


async def test_repeated_failures_lock_the_username_with_429(control: Control) -> None:
    wrong = {"username": "a_pub", "password": "not the password"}
    for _ in range(10):
        status, _ = await control.call("POST", "/auth/token", json=wrong)
        assert status == 401
    async with control.http.post(
        control.base + "/auth/token", json={"username": "a_pub", "password": PASSWORD}
    ) as response:
        body = await response.json(content_type=None)
        assert response.status == 429, body
        assert 1 <= int(response.headers["retry-after"]) <= 900
        assert body["code"] == 801429 and "too many failed sign-ins" in body["detail"]
    status, page = await control.call("GET", "/audit?object_type=signin&limit=1", as_user="root")
    assert page["items"][0]["after"] == {"username": "a_pub", "address": "127.0.0.1", "reason": "locked"}
    status, _ = await control.call("POST", "/auth/token", json={"username": "b_pub", "password": PASSWORD})
    assert status == 200  # another account from the same address is not locked (50 per address)


async def test_failed_sign_ins_are_audited(control: Control) -> None:
    """Each failure is in the audit log with the user name as typed, the client address and the real
    reason (the client sees one 401 for all); unknown names go to super admins only."""
    for username, password in (("A_Pub", "not the password"), ("nobody", PASSWORD)):
        assert (await control.call("POST", "/auth/token", json={"username": username, "password": password}))[0] == 401
    assert (await control.call("POST", "/auth/token", json={"username": "a_pub", "password": PASSWORD}))[0] == 200
    status, page = await control.call("GET", "/audit?object_type=signin", as_user="root")
    assert status == 200
    entries = [(e["action"], e["object_id"], e["actor_name"], e["after"]) for e in page["items"]]
    assert entries == [
        (
            "signin_failed",
            "nobody",
            "anonymous@127.0.0.1",
            {"username": "nobody", "address": "127.0.0.1", "reason": "unknown_user"},
        ),
        (
            "signin_failed",
            "A_Pub",
            "anonymous@127.0.0.1",
            {"username": "A_Pub", "address": "127.0.0.1", "reason": "wrong_password"},
        ),
    ]
    status, page = await control.call("GET", "/audit?object_type=signin", as_user="a_admin")
    assert [e["object_id"] for e in page["items"]] == ["A_Pub"]  # their tenant's account only
    assert (await control.call("GET", "/audit?object_type=signin", as_user="b_admin"))[1]["items"] == []
