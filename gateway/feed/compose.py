"""One config from two sources: the conf/ files and the catalog view.

Catalog APIs get the global policies of gateway.yaml exactly like file APIs do. Where both define
the same context+version the file wins (it is what the operator pinned on this node) and the catalog
API is skipped with a log line; a catalog API whose policies no longer validate (a policy removed
from this build, say) is skipped the same way, so one bad row never blocks every other change.
"""

from __future__ import annotations

import logging

from gateway.config.errors import ConfigProblem
from gateway.config.load import resolve_policies
from gateway.config.model import ApiDefinition, LoadedConfig
from gateway.feed.view import CatalogView

log = logging.getLogger("splp.feed")

CATALOG_SOURCE = "catalog"


def compose(files: LoadedConfig, view: CatalogView | None) -> LoadedConfig:
    if view is None or not view.apis:
        return files
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
        names = {spec.name for spec in own}
        merged = tuple(spec for spec in global_specs if spec.name not in names) + own
        added.append(ApiDefinition(config=config, policies=merged, source=CATALOG_SOURCE, where=where))
        taken.add(config.prefix)
    return LoadedConfig(path=files.path, gateway=files.gateway, apis=files.apis + tuple(added), files=files.files)
