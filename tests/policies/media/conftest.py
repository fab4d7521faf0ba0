from __future__ import annotations

import pytest

from tests.gateway.conftest import write_config  # noqa: F401 - fixture re-export
from tests.media import GatewayFactory, media_gateway_factory


@pytest.fixture(params=["lean", "aiohttp"])
def media_gateway(request: pytest.FixtureRequest, write_config) -> GatewayFactory:  # noqa: F811
    """Every end-to-end media test runs with both upstream clients: they must behave the same."""
    return media_gateway_factory(write_config, request.param)
