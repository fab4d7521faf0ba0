"""Bad input gives a precise config error: file, key path, value and what was expected."""

from __future__ import annotations

import pytest
import yaml

from gateway.config.errors import ConfigError
from gateway.config.load import load_config


def load_with(tmp_path, throttle, **sections):
    data = {
        "apis": [
            {
                "name": "svc",
                "context": "/svc",
                "version": "v1",
                "tenant": "t",
                "backend": {"endpoints": ["http://127.0.0.1:9"]},
                "policies": [{"throttle": throttle}],
            }
        ],
        **sections,
    }
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, lambda: load_config(path)


@pytest.mark.parametrize(
    ("throttle", "where", "message"),
    [
        ({"api": [{"name": "a", "limit": "0/minute"}]}, "api[0].limit", "'0/minute' allows no request; expected <n>/"),
        ({"api": [{"name": "a", "limit": "abc"}]}, "api[0].limit", "'abc' is not a rate; expected <n>/<second|minute"),
        ({"api": [{"name": "a", "limit": "-5/minute"}]}, "api[0].limit", "'-5/minute' is negative; expected"),
        ({"global": [{"name": "g", "limit": "5/minit"}]}, "global[0].limit", "'5/minit' is not a rate"),
        ({"levelz": {}}, "levelz", "unknown key 'levelz'; expected one of: api, application, application_header"),
        ({"api": [{"name": "a", "limit": "5/second", "per": "cookie"}]}, "api[0].per", "'cookie' is not a key"),
        ({"bandwidth": {"limit": "0MB/minute"}}, "bandwidth.limit", "'0MB/minute' allows no byte"),
        ({"backend": {"max_in_flight": 0}}, "backend.max_in_flight", "greater than or equal to 1"),
        ({"block": {"ips": ["10.0.0.300/8"]}}, "block.ips", "'10.0.0.300/8' is not an IP address or CIDR range"),
        ({"strategy": "token-bucket"}, "strategy", "'token-bucket'"),
    ],
)
def test_bad_limits_name_file_path_and_expectation(tmp_path, throttle, where, message):
    path, load = load_with(tmp_path, throttle)
    with pytest.raises(ConfigError) as caught:
        load()
    (problem,) = caught.value.problems
    assert problem.file == str(path)
    assert problem.path == f"apis[0].policies[0].throttle.{where}"
    assert message in problem.message, problem.message


def test_bad_tier_rate_is_a_config_error(tmp_path):
    path, load = load_with(tmp_path, {}, tiers={"subscription": {"Gold": {"requests": "0/minute"}}})
    with pytest.raises(ConfigError) as caught:
        load()
    (problem,) = caught.value.problems
    assert problem.path == "tiers.subscription.Gold.requests" and "allows no request" in problem.message


def test_unknown_tier_refuses_the_snapshot(tmp_path):
    from gateway.app import GatewayApp

    _, load = load_with(
        tmp_path,
        {"subscription": {"default_tier": "Platinum"}},
        subscriptions=[{"application": "a", "api": "/svc/v1", "tier": "Copper"}],
    )
    with pytest.raises(ConfigError) as caught:
        GatewayApp(load())
    rendered = str(caught.value)
    assert "subscription.default_tier: 'Platinum' is not a subscription tier; expected one of: Bronze, Gold" in rendered
    assert "subscriptions[a].tier: 'Copper' is not a subscription tier" in rendered


def test_wso2_default_tiers_are_embedded():
    from gateway.config.tiers import TiersConfig

    tiers = TiersConfig()
    assert {k: v.requests for k, v in tiers.subscription.items()} == {
        "Gold": "5000/minute",
        "Silver": "2000/minute",
        "Bronze": "1000/minute",
        "Unlimited": None,
    }
    assert set(tiers.application) == {"10PerMin", "20PerMin", "50PerMin", "Unlimited"}
