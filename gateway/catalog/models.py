"""The catalog's shapes: pydantic v2 models for what comes in (validated, unknown keys refused) and
what goes out. The control API takes its request and response schemas from these, so the OpenAPI
document and the validation can never disagree.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class Role(StrEnum):
    SUPER_ADMIN = "super_admin"  # national operator: every tenant
    TENANT_ADMIN = "tenant_admin"  # operator of one institution and its units
    PUBLISHER = "publisher"  # registers and documents the institution's APIs
    SUBSCRIBER = "subscriber"  # developer: applications and subscriptions
    AUDITOR = "auditor"  # reads everything in its scope, changes nothing


class TenantKind(StrEnum):
    NATIONAL = "national"
    MINISTRY = "ministry"
    AGENCY = "agency"
    PROVINCE = "province"
    REGENCY = "regency"
    CITY = "city"
    UNIT = "unit"  # satker / OPD / regional office inside an institution


_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError("expected 1-64 lowercase letters, digits or '-', not starting or ending with '-'")
    return value


def _username(value: str) -> str:
    if not _USERNAME.match(value):
        raise ValueError("expected 2-64 letters, digits or ._@- starting with a letter or digit")
    return value.lower()


def _email(value: str) -> str:
    if not _EMAIL.match(value) or len(value) > 254:
        raise ValueError("not an e-mail address")
    return value


def _password(value: str) -> str:
    if len(value) < 12:
        raise ValueError("at least 12 characters")
    if len(value) > 1024:
        raise ValueError("at most 1024 characters")
    return value


Slug = Annotated[str, AfterValidator(_slug)]
Username = Annotated[str, AfterValidator(_username)]
Email = Annotated[str, AfterValidator(_email)]
Password = Annotated[str, AfterValidator(_password)]
Text = Annotated[str, Field(max_length=4000)]
ShortText = Annotated[str, Field(max_length=200)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TenantProfile(_In):
    """What an institution's own administrator may change."""

    name: ShortText | None = Field(None, min_length=1, description="Display name of the institution.")
    description: Text | None = Field(None, description="What the institution is and does.")
    email: Email | None = Field(None, description="Contact e-mail.")
    phone: ShortText | None = Field(None, description="Contact phone.")
    website: ShortText | None = Field(None, description="Public website.")
    address: Text | None = Field(None, description="Postal address.")


class TenantCreate(_In):
    slug: Slug = Field(description="Short unique name, used in API definitions (`tenant:`) and URLs.")
    name: ShortText = Field(min_length=1, description="Display name of the institution.")
    kind: TenantKind = Field(description="national, ministry, agency, province, regency, city or unit.")
    parent_id: str | None = Field(None, description="Parent tenant; only the national tenant has none.")
    description: Text = Field("", description="What the institution is and does.")
    email: Email | None = Field(None, description="Contact e-mail.")
    phone: ShortText | None = Field(None, description="Contact phone.")
    website: ShortText | None = Field(None, description="Public website.")
    address: Text | None = Field(None, description="Postal address.")


class TenantUpdate(TenantProfile):
    """What a super admin may change (moving a tenant in the tree is not offered: it would move its users)."""

    active: bool | None = Field(None, description="An inactive tenant's users cannot sign in.")


class Tenant(BaseModel):
    id: str
    slug: str
    name: str
    kind: TenantKind
    parent_id: str | None
    description: str
    email: str | None
    phone: str | None
    website: str | None
    address: str | None
    active: bool
    created_at: str
    updated_at: str


class UserCreate(_In):
    username: Username = Field(description="Login name, unique across SPLP; stored in lowercase.")
    password: Password = Field(description="At least 12 characters.")
    role: Role = Field(description="super_admin, tenant_admin, publisher, subscriber or auditor.")
    full_name: ShortText = Field("", description="Person's name.")
    email: Email | None = Field(None, description="Contact e-mail.")
    phone: ShortText | None = Field(None, description="Contact phone.")
    tenant_id: str | None = Field(None, description="Tenant of the new user; default: the caller's.")


class ProfileUpdate(_In):
    """What every user may change about themselves."""

    full_name: ShortText | None = Field(None, description="Person's name.")
    email: Email | None = Field(None, description="Contact e-mail.")
    phone: ShortText | None = Field(None, description="Contact phone.")


class UserUpdate(ProfileUpdate):
    """What an administrator may change about a user of their institution."""

    role: Role | None = Field(None, description="New role.")
    active: bool | None = Field(None, description="An inactive user cannot sign in; their tokens stop working.")
    password: Password | None = Field(None, description="Sets a new password (the user's tokens stop working).")


class PasswordChange(_In):
    current_password: str = Field(min_length=1, max_length=1024, description="The password in use now.")
    new_password: Password = Field(description="At least 12 characters, different from the current one.")


class User(BaseModel):
    id: str
    tenant_id: str
    username: str
    email: str | None
    full_name: str
    phone: str | None
    role: Role
    active: bool
    created_at: str
    updated_at: str


class AuditEntry(BaseModel):
    id: int
    at: str
    actor_id: str | None
    actor_name: str
    actor_tenant_id: str | None
    action: str
    object_type: str
    object_id: str
    tenant_id: str | None
    before: dict[str, object] | None
    after: dict[str, object] | None
