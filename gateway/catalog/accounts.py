"""Sign-in and bootstrap: the two account operations that are not plain repository writes.

`create_admin` is what `splp admin create` calls: the first administrator of an empty catalog also
creates the national tenant it belongs to. There is no default account and no default password.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from gateway.catalog.audit import Actor
from gateway.catalog.errors import Invalid, NotFound
from gateway.catalog.models import Role, TenantCreate, User, UserCreate
from gateway.catalog.passwords import PasswordHasher
from gateway.catalog.store import CatalogStore
from gateway.catalog.users import Credentials


async def create_admin(
    store: CatalogStore,
    *,
    username: str,
    password: str,
    tenant: str,
    role: Role = Role.SUPER_ADMIN,
    tenant_name: str | None = None,
    full_name: str = "",
    email: str | None = None,
    hasher: PasswordHasher | None = None,
    actor: Actor | None = None,
) -> User:
    """Creates an administrator in tenant `tenant` (a slug). When the catalog has no tenant yet, that
    tenant is created as the national root. Raises Invalid (bad username/password, unknown tenant)
    or Conflict (username taken)."""
    if role not in (Role.SUPER_ADMIN, Role.TENANT_ADMIN):
        raise Invalid("role", "an administrator is a super_admin or a tenant_admin")
    try:
        checked = UserCreate(username=username, password=password, role=role, full_name=full_name, email=email)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Invalid(str(first["loc"][0]), first["msg"]) from None
    actor = actor or Actor.system("admin-create")
    try:
        owner = await store.tenants.get_by_slug(tenant)
    except NotFound:
        if await store.tenants.count():
            raise Invalid("tenant", f"no tenant {tenant!r}; create it first (only an empty catalog gets one)") from None
        owner = await store.tenants.create(
            actor, TenantCreate(slug=tenant, name=tenant_name or tenant, kind="national")
        )
    password_hash = await (hasher or PasswordHasher()).hash_async(checked.password)
    return await store.users.create(
        actor,
        tenant_id=owner.id,
        username=checked.username,
        role=checked.role,
        password_hash=password_hash,
        full_name=checked.full_name,
        email=checked.email,
    )


async def authenticate(
    store: CatalogStore, username: str, password: str, hasher: PasswordHasher
) -> Credentials | SignInFailure:
    """The user's credentials when the password matches and both user and tenant are active; else why not
    (for the audit log only: the caller answers every failure alike). Unknown users cost the same scrypt."""
    credentials = await store.users.credentials(username=username)
    ok = await hasher.verify_async(password, credentials.password_hash if credentials else None)
    if credentials is None:
        return SignInFailure("unknown_user", None)
    tenant_id = credentials.user.tenant_id
    if not ok:
        return SignInFailure("wrong_password", tenant_id)
    if not credentials.user.active:
        return SignInFailure("user_inactive", tenant_id)
    if not credentials.tenant_active:
        return SignInFailure("tenant_inactive", tenant_id)
    return credentials


@dataclass(frozen=True, slots=True)
class SignInFailure:
    reason: str  # unknown_user, wrong_password, user_inactive, tenant_inactive, locked
    tenant_id: str | None  # the account's tenant, when the username exists (its admins see the entry)


async def record_failed_signin(store: CatalogStore, username: str, address: str, failure: SignInFailure) -> None:
    """Audit entry `signin_failed` on object type `signin`: the user name as typed, client address, reason."""
    actor = Actor(None, f"anonymous@{address}", None)
    await store.audit.event(
        actor,
        "signin_failed",
        "signin",
        username,
        username=username,
        address=address,
        reason=failure.reason,
        tenant_id=failure.tenant_id,
    )
