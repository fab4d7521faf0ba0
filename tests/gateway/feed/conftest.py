from tests.gateway.catalog.backends import pg_module_database, store_uri  # noqa: F401 - fixtures
from tests.gateway.catalog.conftest import store  # noqa: F401 - fixture
