"""The last catalog view on local disk, so a node restarted while the store is down still serves it.

Written after every sync that changed the view (atomically: a temporary file renamed into place,
mode 0600 because it holds credential hashes), read only at start when the store cannot be reached.
A file that cannot be read or no longer validates is ignored with a log line: the node then serves
its conf/ files alone, as it would without a cache.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

import orjson

from gateway.config.consumers import ApplicationConfig, SubscriptionConfig
from gateway.config.model import ApiConfig
from gateway.config.tiers import Tier
from gateway.feed.view import CatalogView

log = logging.getLogger("splp.feed")

_FORMAT = 1


def save_view(path: Path, view: CatalogView, saved_at: float) -> None:
    """Blocking: call through asyncio.to_thread."""
    data = {
        "format": _FORMAT,
        "saved_at": saved_at,
        "apis": [[api_id, config.model_dump(mode="json")] for api_id, config in view.apis],
        "applications": [app.model_dump(mode="json") for app in view.applications],
        "subscriptions": [sub.model_dump(mode="json") for sub in view.subscriptions],
        "tiers": [[kind, name, tier.model_dump(mode="json")] for kind, name, tier in view.tiers],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(data))
        os.replace(temporary, path)  # several workers may write: each rename is whole
    finally:
        temporary.unlink(missing_ok=True)


def load_cached_view(path: Path) -> tuple[CatalogView, float] | None:
    """(view, saved_at), or None when there is no usable cache. Blocking: call through asyncio.to_thread."""
    try:
        data: dict[str, Any] = orjson.loads(path.read_bytes())
        if data.get("format") != _FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {_FORMAT}")
        view = CatalogView(
            apis=tuple((str(api_id), ApiConfig.model_validate(config)) for api_id, config in data["apis"]),
            applications=tuple(ApplicationConfig.model_validate(app) for app in data["applications"]),
            subscriptions=tuple(SubscriptionConfig.model_validate(sub) for sub in data["subscriptions"]),
            tiers=tuple((str(kind), str(name), Tier.model_validate(tier)) for kind, name, tier in data["tiers"]),
        )
        return view, float(data["saved_at"])
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - a bad cache is ignored, never fatal
        log.error("catalog cache %s ignored: %s", path, exc)
        return None
