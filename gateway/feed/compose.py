"""One config from two sources: the conf/ files and the catalog view.

Catalog APIs get the global policies of gateway.yaml exactly like file APIs do. Where both define
the same thing the file wins (it is what the operator pinned on this node) and the catalog entry is
skipped with a log line: an API with the same context+version, an application with the same id, a
subscription of the same application to the same API. A catalog API whose policies no longer
validate (a policy removed from this build, say) is skipped the same way, so one bad row never
blocks every other change. Tiers set through the control API replace conf/ tiers of the same kind
and name.
"""

from __future__ import annotations

import logging

from gateway.config.errors import ConfigProblem
from gateway.config.load import resolve_policies
from gateway.config.merge import overlay
from gateway.config.model import ApiDefinition, GatewayConfig, LoadedConfig
from gateway.config.tiers import with_overrides
from gateway.feed.view import CatalogView

log = logging.getLogger("splp.feed")

CATALOG_SOURCE = "catalog"


def compose(files: LoadedConfig, view: CatalogView | None) -> LoadedConfig:
    if view is None or view == CatalogView():
        return files
    return LoadedConfig(
        path=files.path, gateway=_gateway(files.gateway, view), apis=_apis(files, view), files=files.files
    )


def _apis(files: LoadedConfig, view: CatalogView) -> tuple[ApiDefinition, ...]:
    global_specs = resolve_policies(files.gateway.policies, files.path, "policies", [])
    taken = {api.config.prefix for api in files.apis}
    added: list[ApiDefinition] = []
    for api_id, config in view.apis:
        where = f"apis/{api_id}"
        if config.prefix in taken:
            log.warning("catalog API %s (%s) skipped: conf/ files define the same prefix", api_id, config.prefix)
            continue
        problems: list[ConfigProblem] = []
        own = resolve_policies(config.policies, CATALOG_SOURCE, f"{where}.policies", problems)
        if problems:
            log.error("catalog API %s (%s) skipped: %s", api_id, config.prefix, "; ".join(map(str, problems)))
            continue
        added.append(
            ApiDefinition(config=config, policies=overlay(global_specs, own), source=CATALOG_SOURCE, where=where)
        )
        taken.add(config.prefix)
    return files.apis + tuple(added)


def _gateway(gateway: GatewayConfig, view: CatalogView) -> GatewayConfig:
    app_ids = {app.id for app in gateway.applications}
    applications = list(gateway.applications)
    for app in view.applications:
        if app.id in app_ids:
            log.warning("catalog application %s skipped: conf/ files declare the same id", app.id)
        else:
            applications.append(app)
    pairs = {(sub.application, sub.api) for sub in gateway.subscriptions}
    subscriptions = list(gateway.subscriptions) + [
        sub for sub in view.subscriptions if (sub.application, sub.api) not in pairs and sub.application not in app_ids
    ]
    tiers = with_overrides(gateway.tiers, view.tiers) if view.tiers else gateway.tiers
    return gateway.model_copy(
        update={"applications": tuple(applications), "subscriptions": tuple(subscriptions), "tiers": tiers}
    )
