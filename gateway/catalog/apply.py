"""`splp apply DIR`: the APIs of conf/ files written into the catalog, so files and store feed one model.

Declarative and idempotent: an API is matched by context+version; missing ones are created, changed
ones updated (gateway fields only: catalog fields such as tags and visibility stay as the control API
set them), equal ones left alone, and nothing in the catalog is deleted. `publish` also publishes
what is CREATED. The owning tenant (an API's `tenant:` slug) must exist; an API owned by another
tenant in the store is refused, never moved. Everything runs as the system actor `apply`, audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.catalog.api_models import ApiCreate, ApiStatus, ApiUpdate, LifecycleAction
from gateway.catalog.apis import to_config
from gateway.catalog.audit import Actor
from gateway.catalog.errors import CatalogError, NotFound
from gateway.catalog.store import CatalogStore
from gateway.config.model import ApiConfig, LoadedConfig

ACTOR = Actor.system("apply")
_GATEWAY_FIELDS = ("name", "description", "groups", "backend", "resources", "policies")


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "prefix: why"

    def lines(self) -> list[str]:
        out = [f"{verb} {prefix}" for verb in ("created", "updated", "published") for prefix in getattr(self, verb)]
        out += [f"unchanged {prefix}" for prefix in self.unchanged]
        return out + [f"refused {reason}" for reason in self.refused]


def _fields(config: ApiConfig) -> dict[str, object]:
    data = config.model_dump(mode="json", include=set(_GATEWAY_FIELDS))
    data["resources"] = [f"{','.join(r['methods'])} {r['path']}" for r in data["resources"]]
    return data


async def apply_config(
    store: CatalogStore, config: LoadedConfig, *, publish: bool = False, dry_run: bool = False
) -> ApplyReport:
    report = ApplyReport()
    for definition in config.apis:
        api = definition.config
        try:
            await _apply_one(store, api, report, publish=publish, dry_run=dry_run)
        except CatalogError as exc:
            report.refused.append(f"{api.prefix} ({definition.source}:{definition.where}): {exc}")
    return report


async def _apply_one(store: CatalogStore, api: ApiConfig, report: ApplyReport, *, publish: bool, dry_run: bool) -> None:
    try:
        tenant = await store.tenants.get_by_slug(api.tenant)
    except NotFound:
        raise NotFound(f"tenant {api.tenant!r} does not exist in the catalog; create it first") from None
    existing = await store.apis.find(api.context, api.version)
    if existing is None:
        report.created.append(api.prefix)
        if not dry_run:
            create = ApiCreate.model_validate({**_fields(api), "context": api.context, "version": api.version})
            existing = await store.apis.create(ACTOR, create, tenant_id=tenant.id)
    elif existing.tenant_id != tenant.id:
        raise CatalogError(f"owned by tenant {existing.tenant!r} in the catalog, not {api.tenant!r}")
    elif to_config(existing) != api:
        report.updated.append(api.prefix)
        if not dry_run:
            existing = await store.apis.update(ACTOR, existing.id, ApiUpdate.model_validate(_fields(api)))
    else:
        report.unchanged.append(api.prefix)
    if publish and (existing is None or existing.status is ApiStatus.CREATED):
        report.published.append(api.prefix)
        if existing is not None and not dry_run:
            await store.apis.transition(ACTOR, existing.id, LifecycleAction.PUBLISH)
