"""Files and catalog merge into one config: global policies apply to catalog APIs, a file API wins a
shared prefix, a catalog API whose policies do not resolve is skipped alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.config.load import load_config
from gateway.config.model import ApiConfig
from gateway.feed.compose import CATALOG_SOURCE, compose
from gateway.feed.view import CatalogView
from tests.gateway.conftest import api


def catalog_api(name: str, **extra: Any) -> ApiConfig:
    return ApiConfig.model_validate(api(name, ["http://127.0.0.1:9"], **extra))


def test_catalog_apis_join_file_apis_with_global_policies(write_config: Callable[..., Path]) -> None:
    files = load_config(write_config([api("filed", ["http://127.0.0.1:9"])], policies=[{"cors": {}}]))
    view = CatalogView(
        apis=(("id-1", catalog_api("pushed", policies=[{"headers": {"request": {"set": {"x-a": "1"}}}}])),)
    )
    config = compose(files, view)
    assert [a.config.prefix for a in config.apis] == ["/filed/v1", "/pushed/v1"]
    pushed = config.apis[1]
    assert (pushed.source, pushed.where) == (CATALOG_SOURCE, "apis/id-1")
    assert sorted(spec.name for spec in pushed.policies) == ["cors", "headers"]
    assert config.gateway == files.gateway and config.path == files.path


def test_file_wins_a_shared_prefix_and_bad_catalog_policies_skip_one_api(write_config: Callable[..., Path]) -> None:
    files = load_config(write_config([api("same", ["http://127.0.0.1:9"], description="from file")]))
    view = CatalogView(
        apis=(
            ("id-1", catalog_api("same", description="from catalog")),
            ("id-2", catalog_api("broken", policies=[{"no-such-policy": {}}])),
            ("id-3", catalog_api("fine")),
        )
    )
    config = compose(files, view)
    assert [(a.config.prefix, a.config.description) for a in config.apis] == [
        ("/same/v1", "from file"),
        ("/fine/v1", ""),
    ]


def test_no_view_is_the_files_alone(write_config: Callable[..., Path]) -> None:
    files = load_config(write_config([api("filed", ["http://127.0.0.1:9"])]))
    assert compose(files, None) is files
    assert compose(files, CatalogView()) is files


def test_catalog_consumers_and_tiers_join_the_files(write_config: Callable[..., Path]) -> None:
    from gateway.config.consumers import ApplicationConfig, SubscriptionConfig
    from gateway.config.tiers import Tier

    files = load_config(
        write_config(
            [api("filed", ["http://127.0.0.1:9"])],
            applications=[{"id": "app-file", "tenant": "test", "name": "from file"}],
            subscriptions=[{"application": "app-file", "api": "/filed/v1", "tier": "Gold"}],
            tiers={"subscription": {"Gold": {"requests": "5000/minute"}, "Silver": {"requests": "2000/minute"}}},
        )
    )
    view = CatalogView(
        applications=(
            ApplicationConfig(id="app-file", tenant="other", name="from catalog"),
            ApplicationConfig(id="app-cat", tenant="test", tier="10PerMin"),
        ),
        subscriptions=(
            SubscriptionConfig(application="app-file", api="/filed/v1", tier="Bronze"),  # the file's app: skipped
            SubscriptionConfig(application="app-cat", api="/filed/v1", tier="Silver"),
        ),
        tiers=(
            ("subscription", "Gold", Tier(requests="10/minute")),
            ("application", "Platinum", Tier(requests="9/second")),
        ),
    )
    gateway = compose(files, view).gateway
    assert [(a.id, a.name) for a in gateway.applications] == [("app-file", "from file"), ("app-cat", "")]
    assert [(s.application, s.tier) for s in gateway.subscriptions] == [("app-file", "Gold"), ("app-cat", "Silver")]
    assert gateway.tiers.subscription["Gold"].requests == "10/minute"
    assert gateway.tiers.subscription["Silver"].requests == "2000/minute"
    assert gateway.tiers.application["Platinum"].requests == "9/second"
