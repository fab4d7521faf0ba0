from tests.gateway.conftest import write_config  # noqa: F401 - fixture re-export
