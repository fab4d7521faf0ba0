"""Throttling tiers (issue 5). Any signed-in user reads them (developers pick a tier when subscribing);
only super admins create, change or delete them. Rates are checked with the throttle policy's parser:
a bad rate is a 422 naming the field. Gateways pick the change up from the audit log (catalog feed)."""

from __future__ import annotations

from gateway.catalog.errors import Invalid
from gateway.catalog.models import Role
from gateway.catalog.tiers import TierKind, TierRecord, TierWrite
from gateway.control.endpoints import PAGING, Call, Endpoint, Page, QueryParam

SUPER = frozenset({Role.SUPER_ADMIN})


def _path_kind(call: Call) -> TierKind:
    kind = _kind(call.path("kind"))
    if kind is None:
        raise Invalid("kind", "expected subscription or application")
    return kind


def _kind(value: str | None, field: str = "kind") -> TierKind | None:
    if value is None:
        return None
    try:
        return TierKind(value)
    except ValueError:
        raise Invalid(field, f"{value!r} is not a tier kind; expected subscription or application") from None


async def list_tiers(call: Call) -> Page:
    limit, offset = call.query["limit"], call.query["offset"]
    items = await call.store.tiers.list(_kind(call.query["kind"]))
    return Page(items[offset : offset + limit], limit, offset)


async def put_tier(call: Call) -> TierRecord:
    kind = _path_kind(call)
    return await call.store.tiers.put(call.principal.actor, kind, call.path("name"), call.body)


async def delete_tier(call: Call) -> None:
    kind = _path_kind(call)
    await call.store.tiers.delete(call.principal.actor, kind, call.path("name"))


_TAG = "tiers"
ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/tiers",
        list_tiers,
        "Throttling tiers held in the catalog (merged over the gateway's conf/ tiers)",
        _TAG,
        response=TierRecord,
        many=True,
        query=(QueryParam("kind", "Only subscription or only application tiers."), *PAGING),
    ),
    Endpoint(
        "PUT",
        "/api/v1/tiers/{kind}/{name}",
        put_tier,
        "Create or replace a tier (super_admin)",
        _TAG,
        roles=SUPER,
        body=TierWrite,
        response=TierRecord,
    ),
    Endpoint(
        "DELETE",
        "/api/v1/tiers/{kind}/{name}",
        delete_tier,
        "Delete a tier from the catalog; a conf/ tier of that name applies again (super_admin)",
        _TAG,
        roles=SUPER,
        status=204,
    ),
)
