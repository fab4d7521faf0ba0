"""The validated, frozen shape of conf/: gateway.yaml plus the API definition files it includes.

Unknown keys are errors (extra="forbid"), so a typo never falls back silently to a default. Every
field carries a description: the README's configuration reference is written from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.config.consumers import ApplicationConfig, SubscriptionConfig
from gateway.config.keymanagers import KeyManagerConfig, check_key_managers
from gateway.config.tiers import TiersConfig
from gateway.config.units import Duration, Size

if TYPE_CHECKING:
    from gateway.types import Policy

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
_CONTEXT = re.compile(r"^(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Paths the gateway answers itself (gateway/app.py, keymanager/resident_http.py): an API there would never be reached.
RESERVED_PREFIXES = ("/_", "/oauth2", "/.well-known")
_TEMPLATE_SEGMENT = re.compile(r"^(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z0-9._~!$&'()*+,;=:@%-]+|\*)$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Listen(Strict):
    host: str = Field("0.0.0.0", description="Address to bind.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port to bind (0 picks a free port).")


class ServerLimitsConfig(Strict):
    header_timeout: Duration = Field(10.0, gt=0, description="Deadline for a request's whole header block.")
    max_header_bytes: Size = Field(
        16384, ge=1024, description="Cap on header name + value bytes (431 past it); trailers get the same cap."
    )
    max_headers: int = Field(100, ge=8, le=10000, description="Cap on the number of request headers (431 past it).")
    max_url_bytes: Size = Field(8192, ge=256, description="Cap on the request target (path + query); 414 past it.")
    underscore_headers: Literal["drop", "reject", "pass"] = Field(
        "drop",
        description="Request header names with '_': drop them (as nginx), reject the request (400) or pass them on. "
        "Backends that fold '_' into '-' (CGI, WSGI, PHP) would otherwise take X_Auth_User for X-Auth-User.",
    )
    keepalive_timeout: Duration = Field(
        5.0, gt=0, description="Idle time before a client keep-alive connection closes."
    )
    body_timeout: Duration = Field(30.0, gt=0, description="Longest silence while a client sends a request body (408).")
    body_deadline: Duration = Field(
        60.0,
        ge=0,
        description="Time a request body may take from its first read (408 past it, the upstream request reset); "
        "every body_min_rate bytes received add one second. 0 = no deadline (only body_timeout).",
    )
    body_min_rate: Size = Field(
        1024,
        ge=0,
        description="Bytes per second a slow upload must keep up to push the body_deadline on; 0 = a fixed deadline.",
    )
    graceful_timeout: Duration = Field(30.0, ge=0, description="On SIGTERM, how long in-flight requests may finish.")


class GatewaySection(Strict):
    listen: Listen = Field(default_factory=Listen, description="Data-plane listener (consumers call it).")
    workers: int = Field(1, ge=1, le=256, description="Worker processes sharing the listener.")
    group: str = Field("default", description="Gateway group label; an API is deployed to chosen groups only.")
    limits: ServerLimitsConfig = Field(
        default_factory=ServerLimitsConfig, description="Protection against abusive clients."
    )
    watch_config: bool = Field(True, description="Reload the snapshot when a config file changes.")
    public_url: str | None = Field(
        None,
        description="Where consumers reach the gateway, e.g. https://api.example.go.id; exported OpenAPI and WSDL "
        "documents point there (default: http://<listen host>:<port>).",
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"{value!r} is not a base URL; expected http(s)://host[:port][/path]")
        return value.rstrip("/")

    def base_url(self) -> str:
        """public_url, else the listener's address (a wildcard bind answers on loopback)."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.listen.host in ("0.0.0.0", "::", "") else self.listen.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.listen.port}"


class ControlSection(Strict):
    enabled: bool = Field(True, description="Serve the control API.")
    listen: Listen = Field(
        default_factory=lambda: Listen(host="127.0.0.1", port=8001),
        description="Control-API listener; keep it on an admin network.",
    )


class StorageSection(Strict):
    catalog: str = Field(
        "sqlite:///var/splp/catalog.db", description="Catalog store URI (sqlite:/// or postgresql://)."
    )
    counters: str = Field("memory://", description="Throttling counter storage URI (memory:// or redis://).")
    serve_catalog: bool = Field(
        False,
        description="Also serve what the catalog store publishes (pushed live on every committed change); "
        "false = DB-less, conf/ files only.",
    )
    catalog_cache: str | None = Field(
        None,
        description="File keeping the last catalog view served, so a node started while the store is down "
        "serves it (mode 0600: it holds credential hashes); null = no cache.",
    )


class TimeoutsConfig(Strict):
    connect: Duration = Field(5.0, gt=0, description="Time to open a backend connection.")
    read: Duration = Field(30.0, gt=0, description="Longest silence while waiting for backend bytes.")
    total: Duration = Field(60.0, gt=0, description="Connect + send request + receive response headers.")


class PassiveHealth(Strict):
    max_failures: int = Field(3, ge=1, description="Consecutive failures that take an endpoint out of rotation.")
    cooldown: Duration = Field(10.0, gt=0, description="How long a failed endpoint is skipped before a retry.")


class PoolSettings(Strict):
    limit: int = Field(1000, ge=1, description="Open backend connections per worker, all hosts.")
    limit_per_host: int = Field(100, ge=1, description="Open backend connections per worker and host.")
    keepalive_timeout: Duration = Field(30.0, gt=0, description="Idle backend connection lifetime.")


class UpstreamDefaults(Strict):
    client: Literal["lean", "aiohttp"] = Field(
        "lean", description="HTTP client for plain-http backends; https backends always use aiohttp."
    )
    pool: PoolSettings = Field(default_factory=PoolSettings, description="Connection pool per worker.")
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig, description="Default backend timeouts.")
    health: PassiveHealth = Field(default_factory=PassiveHealth, description="Default passive health check.")
    retries: int = Field(1, ge=0, le=5, description="Retries of idempotent requests without a body.")


class EndpointConfig(Strict):
    url: str = Field(description="Backend base URL, http:// or https://, optionally with a base path.")
    weight: int = Field(1, ge=1, le=1000, description="Share of traffic relative to the other endpoints.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not a backend URL; expected http://host[:port][/base-path]")
        if parts.query or parts.fragment:
            raise ValueError(f"{value!r} has a query or fragment; expected http://host[:port][/base-path]")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as exc:
            raise ValueError(f"{value!r} has an invalid port") from exc
        return value


class BackendConfig(Strict):
    endpoints: tuple[EndpointConfig, ...] = Field(min_length=1, description="Endpoints, load-balanced by weight.")
    timeouts: TimeoutsConfig | None = Field(None, description="Overrides upstream.timeouts for this API.")
    health: PassiveHealth | None = Field(None, description="Overrides upstream.health for this API.")
    retries: int | None = Field(None, ge=0, le=5, description="Overrides upstream.retries for this API.")
    preserve_host: bool = Field(False, description="Send the client's Host to the backend instead of the endpoint's.")

    @field_validator("endpoints", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """Allows `endpoints: [http://a:9000, http://b:9000]` as well as the mapping form."""
        if isinstance(value, list | tuple):
            return [{"url": item} if isinstance(item, str) else item for item in value]
        return value


class ResourceConfig(Strict):
    methods: tuple[str, ...] = Field(description="HTTP methods, or ANY.")
    path: str = Field(
        description="Path template below the API context, e.g. /pegawai/{nip}; a final /* matches the rest."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """Allows `GET /pegawai/{nip}` and `GET,POST /pegawai` strings."""
        if isinstance(value, str):
            method, _, path = value.strip().partition(" ")
            return {"methods": method.split(","), "path": path.strip()}
        if isinstance(value, dict) and isinstance(value.get("methods"), str):
            return {**value, "methods": value["methods"].split(",")}
        return value

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        methods = tuple(m.strip().upper() for m in value)
        for method in methods:
            if method != "ANY" and method not in HTTP_METHODS:
                raise ValueError(f"{method!r} is not an HTTP method; expected one of {', '.join(HTTP_METHODS)} or ANY")
        if not methods:
            raise ValueError("no method; expected at least one HTTP method or ANY")
        return methods

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if value in ("", "/"):
            return "/"
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must start with '/'")
        segments = value.rstrip("/").split("/")[1:]
        for i, segment in enumerate(segments):
            if segment in (".", "..") or not _TEMPLATE_SEGMENT.match(segment):
                raise ValueError(f"{value!r}: segment {segment!r} is not a literal, a {{param}} or a final *")
            if segment == "*" and i != len(segments) - 1:
                raise ValueError(f"{value!r}: '*' may only be the last segment")
        return value


class ApiConfig(Strict):
    name: str = Field(min_length=1, max_length=200, description="Human name of the API.")
    context: str = Field(description="URL prefix, e.g. /bappenas/pegawai (without the version).")
    version: str = Field(description="Version segment appended to the context, e.g. v1.")
    tenant: str = Field(min_length=1, description="Owning institution (tenant) id.")
    description: str = Field("", description="What the API offers.")
    groups: tuple[str, ...] = Field(("default",), min_length=1, description="Gateway groups that serve this API.")
    backend: BackendConfig = Field(description="Where calls are forwarded.")
    resources: tuple[ResourceConfig, ...] = Field(
        (ResourceConfig(methods=("ANY",), path="/*"),), description="Allowed method + path templates."
    )
    policies: tuple[dict[str, Any], ...] = Field(
        (), description="Policies for this API: a list of {policy-name: {config}}; the chain orders them by PRIORITY."
    )
    body_deadline: Duration | None = Field(
        None,
        ge=0,
        description="Overrides gateway.limits.body_deadline for this API; 0 turns it off (media uploads: only the "
        "idle body_timeout applies then).",
    )
    body_min_rate: Size | None = Field(None, ge=0, description="Overrides gateway.limits.body_min_rate for this API.")

    @field_validator("context")
    @classmethod
    def _context(cls, value: str) -> str:
        reserved = reserved_prefix(value)
        if reserved is not None:
            raise ValueError(f"{value!r} collides with the gateway's own paths ({reserved}...); choose another context")
        if not _CONTEXT.match(value) or any(seg in (".", "..") for seg in value.split("/")):
            raise ValueError(f"{value!r} is not a context; expected /segment[/segment...] of letters, digits, ._~-")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value) or value in (".", ".."):
            raise ValueError(f"{value!r} is not a version; expected letters, digits, ._- such as v1 or 1.0.0")
        return value

    @field_validator("policies", mode="before")
    @classmethod
    def _policies(cls, value: Any) -> Any:
        return _check_policy_list(value)

    @property
    def prefix(self) -> str:
        return f"{self.context}/{self.version}"


def reserved_prefix(context: str) -> str | None:
    """The gateway's own path prefix that `context` falls under (`/_health`, `/oauth2/...`), else None."""
    first = "/" + context.lstrip("/").split("/", 1)[0]
    for prefix in RESERVED_PREFIXES:
        if first.startswith(prefix) if prefix == "/_" else first == prefix:
            return prefix
    return None


def _check_policy_list(value: Any) -> Any:
    if not isinstance(value, list | tuple):
        raise ValueError("expected a list of {policy-name: {config}} entries")
    for item in value:
        if not isinstance(item, dict) or len(item) != 1:
            raise ValueError(f"{item!r} is not a policy entry; expected a one-key mapping {{name: {{config}}}}")
    return value


class GatewayConfig(Strict):
    gateway: GatewaySection = Field(default_factory=GatewaySection, description="Data plane.")
    control: ControlSection = Field(default_factory=ControlSection, description="Control API.")
    storage: StorageSection = Field(default_factory=StorageSection, description="Stores.")
    upstream: UpstreamDefaults = Field(default_factory=UpstreamDefaults, description="Backend defaults.")
    policies: tuple[dict[str, Any], ...] = Field((), description="Policies applied to every API (an API may override).")
    include: tuple[str, ...] = Field((), description="Glob patterns, relative to this file, of API definition files.")
    apis: tuple[ApiConfig, ...] = Field((), description="API definitions inline (see also include).")
    tiers: TiersConfig = Field(default_factory=TiersConfig, description="Named throttling tiers.")
    applications: tuple[ApplicationConfig, ...] = Field((), description="Consumer applications (until the catalog).")
    subscriptions: tuple[SubscriptionConfig, ...] = Field((), description="Application x API subscriptions.")
    key_managers: tuple[KeyManagerConfig, ...] = Field((), description="Token issuers the auth policy may accept.")

    @field_validator("key_managers")
    @classmethod
    def _key_managers(cls, value: tuple[KeyManagerConfig, ...]) -> tuple[KeyManagerConfig, ...]:
        return check_key_managers(value)

    @field_validator("policies", mode="before")
    @classmethod
    def _policies(cls, value: Any) -> Any:
        return _check_policy_list(value)

    @model_validator(mode="after")
    def _application_key_managers(self) -> GatewayConfig:
        declared = {km.name for km in self.key_managers}
        for app in self.applications:
            if "key_managers" not in app.model_fields_set:
                continue  # the default (resident) is checked where it is used
            for name in app.key_managers:
                if name not in declared:
                    known = ", ".join(sorted(declared)) or "none"
                    raise ValueError(
                        f"application {app.id}: key manager {name!r} is not declared in key_managers"
                        f" (declared: {known})"
                    )
        return self


class ApiFile(Strict):
    """An included file: a list of API definitions."""

    apis: tuple[ApiConfig, ...] = Field(description="API definitions.")


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """One policy resolved against the registry, its config validated."""

    name: str
    policy_class: type[Policy]
    config: BaseModel


@dataclass(frozen=True, slots=True)
class ApiDefinition:
    config: ApiConfig
    policies: tuple[PolicySpec, ...]
    source: str  # the file it came from
    where: str = ""  # its key path in that file, e.g. "apis[2]"


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    path: str
    gateway: GatewayConfig
    apis: tuple[ApiDefinition, ...]
    files: tuple[str, ...] = field(default=())  # every file read, for the reload watcher
