"""The users of an institution (the slides' /institution-users).

Reading: super_admin, tenant_admin, auditor (and anyone reading their own record). Changing:
super_admin and tenant_admin, within their scope. Only a super_admin creates, changes or deletes a
super_admin. Nobody changes their own role or active flag, or deletes themselves (409): another
administrator must, so an institution cannot lock itself out by accident.
"""

from __future__ import annotations

from typing import Any

from gateway.catalog.errors import Conflict, Invalid, NotFound
from gateway.catalog.models import Role, User, UserCreate, UserUpdate
from gateway.control import errors
from gateway.control.access import ADMINS, READERS, Principal
from gateway.control.endpoints import PAGING, Call, Endpoint, Page, QueryParam
from gateway.control.errors import ApiError


def _forbid_super(principal: Principal, *roles: Role | None) -> None:
    if Role.SUPER_ADMIN in roles and principal.role is not Role.SUPER_ADMIN:
        raise ApiError(errors.FORBIDDEN, "only a super_admin manages super_admin accounts")


async def _visible(call: Call, user_id: str) -> User:
    user = await call.store.users.get(user_id)
    if not call.principal.sees(user.tenant_id):
        raise NotFound(user_id)
    return user


async def list_users(call: Call) -> Page:
    principal = call.principal
    tenant_id = call.query["tenant_id"] or principal.tenant_id
    if not principal.sees(tenant_id):
        raise NotFound(tenant_id)
    limit, offset = call.query["limit"], call.query["offset"]
    return Page(await call.store.users.list(tenant_ids=[tenant_id], limit=limit, offset=offset), limit, offset)


async def create_user(call: Call) -> User:
    body: UserCreate = call.body
    principal = call.principal
    tenant_id = body.tenant_id or principal.tenant_id
    if not principal.sees(tenant_id):
        raise Invalid("tenant_id", "no such tenant")
    _forbid_super(principal, body.role)
    password_hash = await call.services.hasher.hash_async(body.password)
    return await call.store.users.create(
        principal.actor,
        tenant_id=tenant_id,
        username=body.username,
        role=body.role,
        password_hash=password_hash,
        full_name=body.full_name,
        email=body.email,
        phone=body.phone,
    )


async def get_user(call: Call) -> User:
    principal = call.principal
    user = await _visible(call, call.path("id"))
    if user.id != principal.user.id:
        principal.require(READERS)
    return user


async def update_user(call: Call) -> User:
    body: UserUpdate = call.body
    principal = call.principal
    user = await _visible(call, call.path("id"))
    fields: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"password"})
    _forbid_super(principal, user.role, fields.get("role"))
    if user.id == principal.user.id and (
        ("role" in fields and fields["role"] != user.role) or fields.get("active") is False
    ):
        raise Conflict("you cannot change your own role or deactivate yourself; ask another administrator")
    password_hash = await call.services.hasher.hash_async(body.password) if body.password else None
    return await call.store.users.update(principal.actor, user.id, fields, password_hash=password_hash)


async def delete_user(call: Call) -> None:
    principal = call.principal
    user = await _visible(call, call.path("id"))
    _forbid_super(principal, user.role)
    if user.id == principal.user.id:
        raise Conflict("you cannot delete yourself; ask another administrator")
    await call.store.users.delete(principal.actor, user.id)


_TAG = "institution users"
_ID = "/api/v1/institution-users/{id}"
ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/institution-users",
        list_users,
        "Users of my institution (or of a unit in my scope)",
        _TAG,
        roles=READERS,
        response=User,
        many=True,
        query=(QueryParam("tenant_id", "Tenant whose users to list; default: mine."), *PAGING),
    ),
    Endpoint(
        "POST",
        "/api/v1/institution-users",
        create_user,
        "Create a user",
        _TAG,
        roles=ADMINS,
        body=UserCreate,
        response=User,
        status=201,
    ),
    Endpoint("GET", _ID, get_user, "One user", _TAG, response=User),
    Endpoint("PUT", _ID, update_user, "Change a user", _TAG, roles=ADMINS, body=UserUpdate, response=User),
    Endpoint("DELETE", _ID, delete_user, "Delete a user", _TAG, roles=ADMINS, status=204),
)
