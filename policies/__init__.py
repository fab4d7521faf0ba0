"""Policy registry: config name -> policy class. An explicit dict, no directory scanning."""

from __future__ import annotations

from gateway.types import Policy
from policies.auth.policy import AuthPolicy
from policies.cors.policy import CorsPolicy
from policies.headers.policy import HeadersPolicy
from policies.throttle.policy import ThrottlePolicy

REGISTRY: dict[str, type[Policy]] = {
    AuthPolicy.NAME: AuthPolicy,
    CorsPolicy.NAME: CorsPolicy,
    HeadersPolicy.NAME: HeadersPolicy,
    ThrottlePolicy.NAME: ThrottlePolicy,
}
