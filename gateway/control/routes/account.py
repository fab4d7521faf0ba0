"""The signed-in user's own account and institution (the slides' /myaccount endpoints).

Every role may read and edit its own profile and change its own password; the institution profile
is readable by all its users and editable by its tenant_admin (or a super_admin).
"""

from __future__ import annotations

from gateway.catalog.models import PasswordChange, ProfileUpdate, Tenant, TenantProfile, User
from gateway.control import errors
from gateway.control.access import ADMINS
from gateway.control.endpoints import Call, Endpoint
from gateway.control.errors import ApiError


async def get_profile(call: Call) -> User:
    return call.principal.user


async def update_profile(call: Call) -> User:
    change: ProfileUpdate = call.body
    principal = call.principal
    return await call.store.users.update(principal.actor, principal.user.id, change.model_dump(exclude_unset=True))


async def change_password(call: Call) -> None:
    change: PasswordChange = call.body
    principal = call.principal
    hasher = call.services.hasher
    credentials = await call.store.users.credentials(user_id=principal.user.id)
    if credentials is None or not await hasher.verify_async(change.current_password, credentials.password_hash):
        raise errors.invalid([{"loc": ["body", "current_password"], "msg": "wrong password", "type": "value_error"}])
    if change.new_password == change.current_password:
        raise errors.invalid(
            [{"loc": ["body", "new_password"], "msg": "same as the current password", "type": "value_error"}]
        )
    await call.store.users.update(
        principal.actor, principal.user.id, {}, password_hash=await hasher.hash_async(change.new_password)
    )


async def get_institution(call: Call) -> Tenant:
    return await call.store.tenants.get(call.principal.tenant_id)


async def update_institution(call: Call) -> Tenant:
    principal = call.principal
    if principal.role not in ADMINS:
        raise ApiError(errors.FORBIDDEN, "only the institution's tenant_admin may change its profile")
    return await call.store.tenants.update(principal.actor, principal.tenant_id, call.body)


_TAG = "my account"
ENDPOINTS = (
    Endpoint("GET", "/api/v1/myaccount/profile", get_profile, "My profile", _TAG, response=User),
    Endpoint(
        "PUT", "/api/v1/myaccount/profile", update_profile, "Change my profile", _TAG, body=ProfileUpdate, response=User
    ),
    Endpoint(
        "PUT",
        "/api/v1/myaccount/change-password",
        change_password,
        "Change my password (every token of mine stops working: sign in again)",
        _TAG,
        body=PasswordChange,
        status=204,
    ),
    Endpoint("GET", "/api/v1/myaccount/institution/profile", get_institution, "My institution", _TAG, response=Tenant),
    Endpoint(
        "PUT",
        "/api/v1/myaccount/institution/profile",
        update_institution,
        "Change my institution's profile (tenant_admin)",
        _TAG,
        body=TenantProfile,
        response=Tenant,
    ),
)
