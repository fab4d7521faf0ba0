"""`key_managers: [...]` on an application in conf/: the list, the one-name shorthand, and names that are
declared nowhere as config errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.config.consumers import ApplicationConfig
from gateway.config.model import GatewayConfig

KMS = [
    {"type": "jwt", "name": "kc", "issuer": "https://idp", "jwks_url": "http://127.0.0.1:9/jwks"},
    {
        "type": "introspection",
        "name": "kc-opaque",
        "url": "http://127.0.0.1:9/i",
        "client_id": "g",
        "client_secret": "s",
    },
]


def test_list_shorthand_and_default() -> None:
    assert ApplicationConfig(id="a", tenant="t").key_managers == ("resident",)
    assert ApplicationConfig.model_validate({"id": "a", "tenant": "t", "key_manager": "kc"}).key_managers == ("kc",)
    both = {"id": "a", "tenant": "t", "key_managers": ["kc", "kc-opaque"]}
    config = GatewayConfig.model_validate({"key_managers": KMS, "applications": [both]})
    assert config.applications[0].key_managers == ("kc", "kc-opaque")
    with pytest.raises(ValidationError, match="not both"):
        ApplicationConfig.model_validate({**both, "key_manager": "kc"})
    with pytest.raises(ValidationError, match="at least 1"):
        ApplicationConfig.model_validate({**both, "key_managers": []})


def test_undeclared_key_manager_is_a_config_error() -> None:
    app = {"id": "a", "tenant": "t", "key_managers": ["kc", "keycloak"]}
    with pytest.raises(ValidationError, match=r"application a: key manager 'keycloak' is not declared.*kc, kc-opaque"):
        GatewayConfig.model_validate({"key_managers": KMS, "applications": [app]})
