"""Policy registry: config name -> policy class. An explicit dict of the built-in policies, plus the
classes installed packages publish under the `splp.policies` entry-point group (policies/discover.py).
SOURCES says where each came from (`splp chain` prints it)."""

from __future__ import annotations

from gateway.types import Policy
from policies.auth.policy import AuthPolicy
from policies.cors.policy import CorsPolicy
from policies.discover import discover
from policies.encryption.policy import JwePolicy
from policies.headers.policy import HeadersPolicy
from policies.media.policy import MediaPolicy
from policies.mtls.policy import MtlsPolicy
from policies.throttle.policy import ThrottlePolicy

BUILTIN: dict[str, type[Policy]] = {
    AuthPolicy.NAME: AuthPolicy,
    CorsPolicy.NAME: CorsPolicy,
    HeadersPolicy.NAME: HeadersPolicy,
    JwePolicy.NAME: JwePolicy,
    MediaPolicy.NAME: MediaPolicy,
    MtlsPolicy.NAME: MtlsPolicy,
    ThrottlePolicy.NAME: ThrottlePolicy,
}
_EXTERNAL, _EXTERNAL_SOURCES = discover(BUILTIN)
REGISTRY: dict[str, type[Policy]] = {**BUILTIN, **_EXTERNAL}
SOURCES: dict[str, str] = {**dict.fromkeys(BUILTIN, "built-in"), **_EXTERNAL_SOURCES}
