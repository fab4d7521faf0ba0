"""The shapes of consumers in the catalog: applications (OAuth clients) and their API keys, subscriptions
of applications to APIs, and the approval workflow (settings per tenant, requests in a queue).

Secrets appear in exactly three response models, `ApplicationCreated`, `SecretIssued` and `ApiKeyIssued`,
each returned once by the call that made the secret; every other model (and so the audit log) holds
none. Tiers are names checked against the configured tiers (gateway.config.tiers) by the control API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from gateway.catalog.models import ShortText, Text


class ConsumerStatus(StrEnum):
    """The state of an application or a subscription."""

    ACTIVE = "ACTIVE"
    PENDING_APPROVAL = "PENDING_APPROVAL"  # waits for an approver; not exported to gateways
    REJECTED = "REJECTED"  # an approver said no; kept for the record, not exported
    BLOCKED = "BLOCKED"  # exported as blocked: the gateway refuses it (403)


class Workflow(StrEnum):
    """The changes a tenant may require an approval for."""

    API_STATE_CHANGE = "api_state_change"  # publish, deprecate, retire (block/unblock are admin actions)
    API_UPDATE = "api_update"  # a change to a served (PUBLISHED or DEPRECATED) API
    APPLICATION_CREATION = "application_creation"
    SUBSCRIPTION = "subscription"  # decided by the API owner's tenant


class ApprovalStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


GrantType = Literal["client_credentials", "password", "refresh_token"]
Scope = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\x21\x23-\x5b\x5d-\x7e]+$")]


def _unique(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(values))


GrantTypes = Annotated[tuple[GrantType, ...], Field(min_length=1), AfterValidator(_unique)]
KeyManagerName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
KeyManagerNames = Annotated[tuple[KeyManagerName, ...], Field(min_length=1, max_length=20), AfterValidator(_unique)]
Scopes = Annotated[tuple[Scope, ...], Field(max_length=100), AfterValidator(_unique)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ApplicationCreate(_In):
    tenant_id: str | None = Field(None, description="Owner tenant; default: the caller's.")
    name: ShortText = Field(min_length=1, description="Name, unique inside the tenant.")
    description: Text = Field("", description="What the application is for.")
    tier: str | None = Field(None, description="Application tier (tiers.application); default Unlimited.")
    grant_types: GrantTypes = Field(("client_credentials",), description="OAuth grants the application may use.")
    scopes: Scopes = Field((), description="Scopes the application may be granted.")
    key_managers: KeyManagerNames = Field(
        ("resident",), description="Key managers (gateway.yaml names) whose tokens may speak for the application."
    )


class ApplicationUpdate(_In):
    """Every field optional: the ones sent replace the stored ones."""

    name: ShortText | None = Field(None, min_length=1, description="Name, unique inside the tenant.")
    description: Text | None = Field(None, description="What the application is for.")
    tier: str | None = Field(None, description="Application tier (tiers.application).")
    grant_types: GrantTypes | None = Field(None, description="OAuth grants the application may use.")
    scopes: Scopes | None = Field(None, description="Scopes the application may be granted.")
    key_managers: KeyManagerNames | None = Field(
        None, description="Key managers (gateway.yaml names) whose tokens may speak for the application."
    )


class ApiKey(BaseModel):
    """An API key as listed: its first characters for recognition, never the key or its hash."""

    id: str
    name: str
    prefix: str = Field(description="The key's first 8 characters.")
    created_at: str
    expires_at: str | None
    revoked: bool


class Application(BaseModel):
    id: str = Field(description="Also the OAuth client id at the resident key manager.")
    tenant_id: str
    tenant: str = Field(description="Owner tenant's slug.")
    owner_id: str | None = Field(description="The user who created it.")
    shared_with: list[str] = Field(
        default_factory=list, description="Users (ids) who may act on it like its owner: rotate secrets, keys, delete."
    )
    name: str
    description: str
    tier: str
    status: ConsumerStatus
    grant_types: list[str]
    scopes: list[str]
    key_managers: list[str] = Field(description="Key managers whose tokens may speak for it.")
    keys: list[ApiKey]
    created_at: str
    updated_at: str


class ApplicationCreated(Application):
    client_secret: str = Field(description="Shown this once; only its scrypt hash is stored.")


class ApplicationShare(_In):
    user_id: str = Field(min_length=1, max_length=64, description="A user of the application's tenant.")


class SecretIssued(BaseModel):
    client_id: str
    client_secret: str = Field(description="Shown this once; the previous secret stops working.")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


class ApiKeyCreate(_In):
    name: ShortText = Field("", description="What the key is for.")
    expires_at: Annotated[AwareDatetime, AfterValidator(_utc)] | None = Field(
        None, description="When the key stops working (ISO 8601 with offset); default: never."
    )


class ApiKeyIssued(ApiKey):
    key: str = Field(description="Shown this once; only its sha256 hash is stored.")


class SubscriptionCreate(_In):
    application_id: str = Field(description="The subscribing application (of my tenant).")
    api_id: str = Field(description="A PUBLISHED API I may see in the catalog.")
    tier: str = Field("Unlimited", description="Subscription tier (tiers.subscription).")


class Subscription(BaseModel):
    id: str
    application_id: str
    application: str = Field(description="The application's name.")
    application_tenant_id: str
    api_id: str
    api: str = Field(description="The API's prefix (context/version), as gateways route it.")
    api_tenant_id: str
    tier: str
    status: ConsumerStatus
    created_by: str | None
    created_at: str
    updated_at: str


class ApprovalSettings(BaseModel):
    tenant_id: str
    api_state_change: bool = Field(description="Lifecycle changes (publish, deprecate, retire) wait for approval.")
    api_update: bool = Field(description="Changes to a served API wait; the old definition keeps serving.")
    application_creation: bool = Field(description="New applications start PENDING_APPROVAL.")
    subscription: bool = Field(description="Subscriptions to this tenant's APIs start PENDING_APPROVAL.")
    four_eyes: bool = Field(False, description="The user who asked for a change may not approve it.")
    updated_at: str | None


class ApprovalSettingsUpdate(_In):
    api_state_change: bool | None = Field(None, description="Lifecycle changes wait for approval.")
    api_update: bool | None = Field(None, description="Changes to a served API wait for approval.")
    application_creation: bool | None = Field(None, description="New applications wait for approval.")
    subscription: bool | None = Field(None, description="Subscriptions to this tenant's APIs wait for approval.")
    four_eyes: bool | None = Field(None, description="The requester of a change may not approve it.")


class ApprovalRequest(BaseModel):
    id: str
    tenant_id: str = Field(description="The tenant whose administrators decide.")
    kind: Workflow
    object_type: str = Field(description="api, application or subscription.")
    object_id: str
    payload: dict[str, Any] = Field(description="The proposed change.")
    requested_by: str | None
    requested_by_name: str
    status: ApprovalStatus
    decided_by: str | None
    decided_by_name: str | None
    decided_at: str | None
    reason: str | None
    created_at: str


class Approve(_In):
    reason: Text = Field("", description="Why (kept with the decision).")


class Reject(_In):
    reason: Text = Field(min_length=1, description="Why (kept with the decision; the requester reads it).")
