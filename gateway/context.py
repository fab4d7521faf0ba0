"""Per-request context: one small object at scope["gateway"], built once at the chain entry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.router import Resource
    from gateway.snapshot import ApiRuntime


class RequestContext:
    __slots__ = (
        "request_id",
        "api",
        "resource",
        "path_params",
        "upstream_path",
        "client_ip",
        "host",
        "principal",
        "application",
        "tenant",
        "extra",
        "response_headers",
    )

    def __init__(
        self,
        request_id: bytes,
        api: ApiRuntime,
        resource: Resource | None,  # None: an OPTIONS preflight on a path without OPTIONS
        path_params: dict[str, str] | None,
        upstream_path: bytes,
        client_ip: str,
        host: bytes,
    ) -> None:
        self.request_id = request_id
        self.api = api
        self.resource = resource
        self.path_params = path_params
        self.upstream_path = upstream_path  # raw path below the API prefix, with "?query"
        self.client_ip = client_ip
        self.host = host
        self.principal: Any = None  # filled by authentication policies
        self.application: Any = None
        self.tenant: str | None = None
        self.extra: dict[str, Any] | None = None  # for policies that need more; allocated on demand
        # Headers a policy adds to the backend's response (e.g. throttling's RateLimit-*). The proxy appends
        # them when it starts the response, so a policy needs no per-request `send` wrapper for this.
        self.response_headers: list[tuple[bytes, bytes]] | None = None

    def note(self, key: str, value: Any) -> None:
        """Adds a field to this call's analytics event (read by the observability log phase)."""
        extra = self.extra if self.extra is not None else {}
        self.extra = extra
        extra.setdefault("event", {})[key] = value
