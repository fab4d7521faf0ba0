"""transfer_for: which size limit and timeouts an API's proxy runs with."""

from __future__ import annotations

import math

from gateway.config.load import load_config
from gateway.streaming import transfer_for
from tests.gateway.conftest import api


def test_gateway_default_api_override_and_media_policy(write_config):
    path = write_config(
        [
            api("plain", ["http://127.0.0.1:1"]),
            api("small", ["http://127.0.0.1:1"], max_body_size="1KiB"),
            api("media", ["http://127.0.0.1:1"], max_body_size="1KiB",
                policies=[{"media": {"max_body_size": "4GiB", "idle_timeout": "90s"}}]),
        ],
        gateway={"limits": {"max_body_size": "2MiB"}},
    )  # fmt: skip
    config = load_config(path)
    plain, small, media = (transfer_for(a, config.gateway) for a in config.apis)
    assert plain.body_limit == 2 * 1024 * 1024 and plain.timeouts.total == 60 and not plain.idle_only
    assert small.body_limit == 1024
    assert media.body_limit == 4 * 1024**3 and media.idle_only
    assert media.timeouts.total == math.inf and media.timeouts.read == 90
    assert media.pace.idle == 90 and media.pace.deadline == 0  # the whole-body deadline is off
    assert plain.pace.deadline == 60 and plain.pace.idle == 30
