"""Who may see an API: one rule, in Python (`Viewer.sees`) and in SQL (`visibility_sql`), kept side by side.

A viewer sees an API when
- it manages the owner: the viewer is a super_admin (scope None), or the owner tenant is in the
  viewer's scope (its own tenant and the tenants below it: a ministry sees its units' APIs);
- or the API is `public`;
- or the API is `tenant` and the viewer belongs to the owner tenant or one of its units (the owner
  is in the viewer's lineage: its own tenant and the ones above it);
- or the API is `restricted` and one of its listed tenants is in the viewer's lineage (listing a
  ministry opens the API to its units too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.catalog.api_models import Api, Visibility
from gateway.catalog.util import placeholders


@dataclass(frozen=True, slots=True)
class Viewer:
    scope: frozenset[str] | None  # tenants the viewer manages; None: all (super_admin)
    lineage: tuple[str, ...]  # the viewer's tenant, its parent, ... up to the root

    def manages(self, tenant_id: str) -> bool:
        return self.scope is None or tenant_id in self.scope

    def sees(self, api: Api) -> bool:
        if self.manages(api.tenant_id) or api.visibility is Visibility.PUBLIC:
            return True
        if api.visibility is Visibility.TENANT:
            return api.tenant_id in self.lineage
        return bool(set(api.visible_tenants) & set(self.lineage))


def visibility_sql(viewer: Viewer | None, dialect: str, args: list[Any]) -> tuple[str, list[Any]]:
    """A WHERE condition over `apis a` (appending its arguments to `args`); None sees everything."""
    if viewer is None or viewer.scope is None:
        return "1 = 1", args
    args = list(args)
    scope = sorted(viewer.scope)
    scope_marks = placeholders(len(args) + 1, len(scope))
    args += scope
    lineage_marks = placeholders(len(args) + 1, len(viewer.lineage))
    args += list(viewer.lineage)
    # both name the element column `value`: SQLite's json_each has it, PostgreSQL gets it by alias
    elements = (
        "json_each(a.visible_tenants) AS j"
        if dialect == "sqlite"
        else ("jsonb_array_elements_text(a.visible_tenants) AS j(value)")
    )
    managed = f"a.tenant_id IN ({scope_marks})" if scope else "1 = 0"
    if not viewer.lineage:
        return f"({managed} OR a.visibility = 'public')", args
    condition = (
        f"({managed} OR a.visibility = 'public'"
        f" OR (a.visibility = 'tenant' AND a.tenant_id IN ({lineage_marks}))"
        f" OR (a.visibility = 'restricted' AND EXISTS (SELECT 1 FROM {elements}"
        f" WHERE j.value IN ({lineage_marks}))))"
    )
    return condition, args
