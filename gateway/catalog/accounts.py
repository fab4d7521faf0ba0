"""Sign-in and bootstrap: the two account operations that are not plain repository writes.

`create_admin` is what `splp admin create` calls: the first administrator of an empty catalog also
creates the national tenant it belongs to. There is no default account and no default password.
"""

from __future__ import annotations

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


async def authenticate(store: CatalogStore, username: str, password: str, hasher: PasswordHasher) -> Credentials | None:
    """The user's credentials when the password matches and both user and tenant are active; else None.
    Unknown users cost the same scrypt as known ones."""
    credentials = await store.users.credentials(username=username)
    ok = await hasher.verify_async(password, credentials.password_hash if credentials else None)
    if not ok or credentials is None or not credentials.user.active or not credentials.tenant_active:
        return None
    return credentials
