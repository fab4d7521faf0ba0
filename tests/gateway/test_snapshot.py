"""Snapshot building: a policy that refuses its config at build time is a located config error."""

from __future__ import annotations

import pytest

from gateway.app import GatewayApp
from gateway.config.errors import ConfigError
from gateway.config.load import load_config
from tests.gateway.conftest import api


def test_policy_cross_check_failure_names_file_and_path(write_config):
    path = write_config([api("svc", ["http://127.0.0.1:9"], policies=[{"auth": {"key_managers": ["nosuch"]}}])])
    config = load_config(path)  # each section is valid on its own
    with pytest.raises(ConfigError) as info:
        GatewayApp(config)
    assert str(info.value) == (
        f"{path}: 1 error\n"
        "  apis[0].policies.auth: auth: key manager 'nosuch' is not declared in key_managers (declared: none)"
    )
