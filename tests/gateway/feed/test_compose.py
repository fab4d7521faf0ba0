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
    assert config.gateway is files.gateway and config.path == files.path


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
