"""Who is calling, and what they may see: the principal behind a Bearer token, and its tenant scope.

Scope: a super_admin sees every tenant; everyone else sees their own tenant and the tenants below it
(a ministry's administrator administers its units; a unit never sees its ministry's private objects;
unrelated institutions never see each other). Objects outside the scope answer 404 (errors.py).
Roles inside the scope: see each route's `roles`. The user is re-read on every request, so a
deactivation, a role change or a password change takes effect at once, whatever the token says.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.catalog.audit import Actor
from gateway.catalog.models import Role, User
from gateway.catalog.store import CatalogStore
from gateway.control import errors
from gateway.control.errors import ApiError
from gateway.control.tokens import InvalidToken, TokenVerifier

ADMINS = frozenset({Role.SUPER_ADMIN, Role.TENANT_ADMIN})
READERS = frozenset({Role.SUPER_ADMIN, Role.TENANT_ADMIN, Role.AUDITOR})


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    scope: frozenset[str] | None  # tenant ids this user may see; None: all (super_admin)

    @property
    def actor(self) -> Actor:
        return Actor(self.user.id, self.user.username, self.user.tenant_id)

    @property
    def role(self) -> Role:
        return self.user.role

    @property
    def tenant_id(self) -> str:
        return self.user.tenant_id

    def sees(self, tenant_id: str) -> bool:
        return self.scope is None or tenant_id in self.scope

    def require(self, roles: frozenset[Role]) -> None:
        if self.user.role not in roles:
            allowed = ", ".join(sorted(r.value for r in roles))
            raise ApiError(
                errors.FORBIDDEN, f"your role {self.user.role.value} may not do this; needs one of {allowed}"
            )

    def scoped_ids(self) -> list[str] | None:
        return None if self.scope is None else sorted(self.scope)


async def authenticate(authorization: str | None, verifier: TokenVerifier, store: CatalogStore) -> Principal:
    if not authorization:
        raise ApiError(errors.MISSING_CREDENTIALS, "send Authorization: Bearer <token> (POST /api/v1/auth/token)")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(errors.MISSING_CREDENTIALS, "expected Authorization: Bearer <token>")
    try:
        claims = await verifier.verify(token.strip())
    except InvalidToken:
        raise ApiError(errors.INVALID_CREDENTIALS, "the token is invalid or expired") from None
    credentials = await store.users.credentials(user_id=claims.user_id)
    if (
        credentials is None
        or not credentials.user.active
        or not credentials.tenant_active
        or credentials.session_version != claims.session_version
    ):
        raise ApiError(errors.INVALID_CREDENTIALS, "the token is no longer valid; sign in again")
    user = credentials.user
    scope = None if user.role is Role.SUPER_ADMIN else frozenset(await store.tenants.subtree(user.tenant_id))
    return Principal(user, scope)
