"""Which changed keys wait for a restart: the deepest keys that differ, under the restart-only sections."""

from __future__ import annotations

from gateway.config.model import GatewayConfig
from gateway.config.restart import restart_only_changes


def test_names_the_deepest_keys_that_differ() -> None:
    running = GatewayConfig.model_validate({})
    new = GatewayConfig.model_validate(
        {
            "gateway": {"listen": {"port": 9000}, "group": "internal", "limits": {"header_timeout": "5s"}},
            "storage": {"counters": "redis://127.0.0.1:6379/0", "catalog": "sqlite:///other.db"},
            "tiers": {"application": {"Fast": {"requests": "5/second"}}},
        }
    )
    assert restart_only_changes(running, new) == [
        "gateway.listen.port",
        "gateway.limits.header_timeout",
        "storage.catalog",
        "tiers (control API)",
    ]
    assert restart_only_changes(running, running) == []
    without_control = GatewayConfig.model_validate({"control": {"enabled": False}})
    changed = without_control.model_copy(update={"tiers": new.tiers})
    assert restart_only_changes(without_control, changed) == []
