"""The shapes of an API in the catalog: what a publisher sends, what the catalog answers, and the
lifecycle states.

The gateway part of a definition (context, version, groups, backend, resources, policies) uses the
gateway's own config models, and the store builds a `gateway.config.model.ApiConfig` from every
definition before it is saved, so the catalog can never hold an API the gateway cannot load.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gateway.catalog.models import ShortText, Text
from gateway.config.model import BackendConfig, ResourceConfig


class ApiStatus(StrEnum):
    CREATED = "CREATED"  # being defined; not served
    PUBLISHED = "PUBLISHED"  # in the catalog and on the gateways
    DEPRECATED = "DEPRECATED"  # still served; new subscribers are told to move on
    RETIRED = "RETIRED"  # gone from gateways and catalog; kept for the record
    BLOCKED = "BLOCKED"  # taken off the gateways by an administrator; unblock restores the state before


class Visibility(StrEnum):
    PUBLIC = "public"  # every signed-in user, and the anonymous public catalog once published
    TENANT = "tenant"  # the owner tenant and its units
    RESTRICTED = "restricted"  # the owner, plus the listed tenants and their units


class Classification(StrEnum):
    """Data classification of what the API returns (Indonesian practice: terbuka, terbatas, rahasia...)."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    SECRET = "secret"


_TAG = re.compile(r"^[a-z0-9][a-z0-9._ -]{0,48}[a-z0-9]$|^[a-z0-9]$")


def _tag(value: str) -> str:
    value = value.strip().lower()
    if not _TAG.match(value):
        raise ValueError("expected 1-50 letters, digits, spaces or ._- (stored in lowercase)")
    return value


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


Tag = Annotated[str, AfterValidator(_tag)]
Tags = Annotated[tuple[Tag, ...], Field(max_length=20), AfterValidator(_unique)]
TenantIds = Annotated[tuple[str, ...], Field(max_length=500), AfterValidator(_unique)]
Groups = Annotated[tuple[Annotated[str, Field(min_length=1, max_length=64)], ...], Field(min_length=1, max_length=20)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ApiCreate(_In):
    tenant_id: str | None = Field(None, description="Owner tenant; default: the caller's.")
    name: ShortText = Field(min_length=1, description="Human name of the API.")
    context: str = Field(max_length=200, description="URL prefix without the version, e.g. /bappenas/pegawai.")
    version: str = Field(max_length=50, description="Version segment appended to the context, e.g. v1.")
    description: Text = Field("", description="What the API offers (searched by the catalog).")
    tags: Tags = Field((), description="Catalog tags (lowercase), at most 20.")
    classification: Classification = Field(Classification.INTERNAL, description="Data classification.")
    visibility: Visibility = Field(Visibility.TENANT, description="public, tenant (owner and units) or restricted.")
    visible_tenants: TenantIds = Field(
        (), description="restricted: tenant ids (with their units) that may see it; ignored for other visibilities."
    )
    groups: Groups = Field(("default",), description="Gateway groups that serve this API.")
    backend: BackendConfig = Field(description="Where calls are forwarded (as in conf/ API files).")
    resources: tuple[ResourceConfig, ...] = Field(
        (ResourceConfig(methods=("ANY",), path="/*"),),
        min_length=1,
        max_length=1000,
        description='Allowed method + path templates: "GET /pegawai/{nip}" or {"methods": [...], "path": ...}.',
    )
    policies: tuple[dict[str, Any], ...] = Field(
        (), max_length=50, description="Policies: a list of {policy-name: {config}}, as in conf/ API files."
    )


class ApiUpdate(_In):
    """Every field optional: the ones sent replace the stored ones. context and version change only
    while the API is CREATED; the owner tenant never changes."""

    name: ShortText | None = Field(None, min_length=1, description="Human name of the API.")
    context: str | None = Field(None, max_length=200, description="URL prefix (only while CREATED).")
    version: str | None = Field(None, max_length=50, description="Version segment (only while CREATED).")
    description: Text | None = Field(None, description="What the API offers.")
    tags: Tags | None = Field(None, description="Catalog tags; replaces the list.")
    classification: Classification | None = Field(None, description="Data classification.")
    visibility: Visibility | None = Field(None, description="public, tenant or restricted.")
    visible_tenants: TenantIds | None = Field(None, description="restricted: tenant ids that may see it.")
    groups: Groups | None = Field(None, description="Gateway groups that serve this API.")
    backend: BackendConfig | None = Field(None, description="Where calls are forwarded.")
    resources: tuple[ResourceConfig, ...] | None = Field(
        None, min_length=1, max_length=1000, description="Allowed method + path templates."
    )
    policies: tuple[dict[str, Any], ...] | None = Field(None, max_length=50, description="Policies.")


class ApiVersionCreate(_In):
    version: str = Field(max_length=50, description="The new version, e.g. v2; the definition is copied as CREATED.")


class LifecycleAction(StrEnum):
    PUBLISH = "publish"
    DEPRECATE = "deprecate"
    RETIRE = "retire"
    BLOCK = "block"
    UNBLOCK = "unblock"


class LifecycleChange(_In):
    action: LifecycleAction = Field(description="publish, deprecate, retire, block or unblock.")


class Api(BaseModel):
    """An API as its owner's scope sees it. For everybody else `backend` and `policies` are null and
    `visible_tenants` empty: backend addresses are internal."""

    id: str
    tenant_id: str
    tenant: str = Field(description="Owner tenant's slug (the gateway's `tenant:`).")
    name: str
    context: str
    version: str
    description: str
    tags: list[str]
    classification: Classification
    visibility: Visibility
    visible_tenants: list[str]
    groups: list[str]
    backend: dict[str, Any] | None
    resources: list[str] = Field(description='Shorthand "GET,POST /path" strings.')
    policies: list[dict[str, Any]] | None
    status: ApiStatus
    blocked_from: ApiStatus | None = Field(description="BLOCKED only: the state unblock returns to.")
    created_by: str | None
    created_at: str
    updated_at: str


class CatalogEntry(BaseModel):
    """An API as the service directory shows it: no backend, no policies."""

    id: str
    name: str
    context: str
    version: str
    description: str
    tags: list[str]
    classification: Classification
    status: ApiStatus
    tenant_id: str
    tenant: str
    tenant_name: str
    resources: list[str]
    updated_at: str


class CatalogPage(BaseModel):
    items: list[CatalogEntry]
    page: int
    per_page: int
    total: int
    pages: int


class InstitutionCount(BaseModel):
    tenant_id: str
    tenant: str
    name: str
    published: int
    total: int


class DashboardStats(BaseModel):
    scope: str = Field(description="national, or the slug of the tenant whose subtree is counted.")
    apis_published: int
    apis_created: int
    apis_deprecated: int
    apis_retired: int
    apis_blocked: int
    total_apis: int
    total_users: int
    total_tenants: int
    total_applications: int
    total_subscriptions: int = Field(description="Subscriptions of the counted tenants' applications.")
    active_visitors: int = Field(description="Users active on the control API in the last 15 minutes.")
    apis_per_institution: list[InstitutionCount] = Field(description="Tenants owning at least one API.")
