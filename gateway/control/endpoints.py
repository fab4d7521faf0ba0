"""Declared endpoints: one `Endpoint` per method and path, from which both the Starlette routes and the
OpenAPI document are built (openapi.py), so the two cannot drift apart.

A handler receives a `Call` (the principal, the validated body, path and query values, the services)
and returns a pydantic model, a `Page`, a dict, a ready Response, or None (204). Errors are raised: ApiError, or the
catalog's NotFound / Forbidden / Conflict / Invalid, which map to 404 / 403 / 409 / 422 here and nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.catalog.errors import Conflict, Forbidden, Invalid, NotFound
from gateway.catalog.models import Role
from gateway.catalog.passwords import PasswordHasher
from gateway.catalog.store import CatalogStore
from gateway.config.tiers import TiersConfig
from gateway.control import errors
from gateway.control.access import Principal, authenticate
from gateway.control.errors import ApiError, problem_response
from gateway.control.signin_guard import SignInGuard
from gateway.control.tokens import TokenIssuer, TokenVerifier
from gateway.control.visitors import VisitorTracker
from gateway.feed.local import settle

if TYPE_CHECKING:
    from gateway.control.routes.etl import EtlHub

log = logging.getLogger("splp.control")

E = TypeVar("E", bound=StrEnum)

MAX_BODY = 1024 * 1024
_JSON_NUL = re.compile(rb"(?:^|[^\\])(?:\\\\)*\\u0000")  # an escaped NUL, not an escaped backslash + "u0000"
INT_MAX = 2**31 - 1  # the largest integer a query parameter may carry (page numbers, offsets)


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


@dataclass(slots=True)
class ControlServices:
    store: CatalogStore
    issuer: TokenIssuer
    verifier: TokenVerifier
    hasher: PasswordHasher
    etl: EtlHub | None = None  # ETL jobs folder and run service (routes/etl.py)
    visitors: VisitorTracker = field(default_factory=VisitorTracker)
    signin_guard: SignInGuard = field(default_factory=SignInGuard)
    tiers: TiersConfig = field(default_factory=TiersConfig)  # the gateway's tiers: subscriptions, applications
    gateway_url: str = "http://127.0.0.1:8000"  # where consumers call the gateway (exported definitions)
    key_managers: frozenset[str] | None = None  # names declared in gateway.yaml (None: not checked)
    catalog_uri: str = ""  # the store's URI: gateways of this process following it are waited for (feed/local.py)


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    description: str
    kind: type = str  # str or int
    minimum: int | None = None
    maximum: int | None = None
    default: Any = None

    def __post_init__(self) -> None:
        if self.kind is int and self.maximum is None:  # both engines store 64-bit integers at most
            object.__setattr__(self, "maximum", INT_MAX)


PAGING = (
    QueryParam("limit", "Page size.", int, 1, 500, 50),
    QueryParam("offset", "Items to skip.", int, 0, None, 0),
)


@dataclass(slots=True)
class Page:
    items: Sequence[BaseModel]
    limit: int
    offset: int

    def render(self) -> dict[str, Any]:
        return {
            "items": [item.model_dump(mode="json") for item in self.items],
            "limit": self.limit,
            "offset": self.offset,
        }


@dataclass(slots=True)
class Call:
    request: Request
    request_id: str
    services: ControlServices
    principal_or_none: Principal | None
    body: Any
    query: dict[str, Any]

    @property
    def principal(self) -> Principal:
        if self.principal_or_none is None:
            raise RuntimeError("a public endpoint asked for the caller's principal")
        return self.principal_or_none

    @property
    def store(self) -> CatalogStore:
        return self.services.store

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # full path, e.g. /api/v1/tenants/{id}
    handler: Handler
    summary: str
    tag: str
    roles: frozenset[Role] | None = None  # None: any signed-in user (or nobody, when public)
    public: bool = False  # no token needed
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    many: bool = False  # the response is a Page of `response`
    accepted: type[BaseModel] | None = None  # may answer 202 with this instead (a change waiting for approval)
    status: int = 200
    query: tuple[QueryParam, ...] = field(default=())
    description: str = ""
    max_body: int = MAX_BODY  # bytes of JSON body accepted (413 past it)
    produces: str | None = None  # media type of a non-JSON response the handler builds itself

    @property
    def name(self) -> str:
        return self.handler.__name__

    def route(self, services: Callable[[], ControlServices]) -> Route:
        return Route(self.path, _wrap(self, services), methods=[self.method], name=self.name)


def accepted(model: BaseModel) -> Response:
    """202 Accepted: the change was not made, it waits (e.g. an approval request)."""
    return JSONResponse(model.model_dump(mode="json"), status_code=202)


def query_enum(call: Call, name: str, kind: type[E]) -> E | None:
    """A query value that must be one of an enum's values (422 otherwise); None when absent."""
    raw = call.query[name]
    if raw is None:
        return None
    try:
        return kind(raw)
    except ValueError:
        expected = ", ".join(member.value for member in kind)
        raise errors.invalid([{"loc": ["query", name], "msg": f"expected one of {expected}", "type": "enum"}]) from None


def _field_errors(exc: ValidationError, where: str) -> list[dict[str, Any]]:
    return [{"loc": [where, *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors(include_url=False)]


async def _read_json(request: Request, limit: int = MAX_BODY) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise ApiError(errors.UNSUPPORTED_MEDIA, f"content-type {content_type or '(none)'}; send application/json")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(errors.TOO_LARGE, f"the body may hold at most {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(errors.TOO_LARGE, f"the body may hold at most {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if b"\\u0000" in raw and _JSON_NUL.search(raw):  # PostgreSQL text cannot hold NUL; no field needs one
        raise errors.invalid([{"loc": ["body"], "msg": "NUL characters (\\u0000) are not allowed", "type": "nul"}])
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(errors.BAD_REQUEST, f"the body is not JSON: {exc}") from None


def _query(endpoint: Endpoint, request: Request) -> dict[str, Any]:
    values: dict[str, Any] = {}
    problems: list[dict[str, Any]] = []
    for param in endpoint.query:
        raw = request.query_params.get(param.name)
        if raw is None:
            values[param.name] = param.default
            continue
        if "\x00" in raw:
            problems.append({"loc": ["query", param.name], "msg": "NUL characters are not allowed", "type": "nul"})
            continue
        if param.kind is int:
            try:
                number = int(raw)
            except ValueError:
                problems.append({"loc": ["query", param.name], "msg": "not an integer", "type": "int_parsing"})
                continue
            if (param.minimum is not None and number < param.minimum) or (
                param.maximum is not None and number > param.maximum
            ):
                bounds = f"{param.minimum}..{'' if param.maximum is None else param.maximum}"
                problems.append({"loc": ["query", param.name], "msg": f"out of range {bounds}", "type": "range"})
                continue
            values[param.name] = number
        else:
            values[param.name] = raw
    if problems:
        raise errors.invalid(problems)
    return values


def _render(endpoint: Endpoint, result: Any, request_id: str) -> Response:
    headers = {"x-request-id": request_id}
    if isinstance(result, Response):  # a handler that sets its own status or headers (202 + Location)
        result.headers["x-request-id"] = request_id
        return result
    if result is None:
        return Response(status_code=204, headers=headers)
    if isinstance(result, Page):
        content: Any = result.render()
    elif isinstance(result, BaseModel):
        content = result.model_dump(mode="json")
    else:
        content = result
    return JSONResponse(content, status_code=endpoint.status, headers=headers)


async def _settle(services: ControlServices) -> None:
    """After a write: a gateway in this process serves it before the answer leaves (one read when nothing
    changed). If it cannot catch up within 2 s (its store is down) the answer goes anyway."""
    try:
        async with asyncio.timeout(2.0):
            await settle(services.catalog_uri, services.store.audit.newest_id)
    except TimeoutError:
        log.warning("control API: a gateway of this process has not applied the change yet (see its feed)")


def _wrap(endpoint: Endpoint, services: Callable[[], ControlServices]) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        request_id = uuid.uuid4().hex
        try:
            current = services()
            if any("\x00" in value for value in request.path_params.values()):
                raise NotFound("no such object")  # no id holds a NUL; PostgreSQL would refuse the query
            principal = None
            if not endpoint.public:
                principal = await authenticate(request.headers.get("authorization"), current.verifier, current.store)
                await current.visitors.seen(current.store, principal.user.id)
                if endpoint.roles is not None:
                    principal.require(endpoint.roles)
            query = _query(endpoint, request)
            body: Any = None
            if endpoint.body is not None:
                data = await _read_json(request, endpoint.max_body)
                try:
                    body = endpoint.body.model_validate(data)
                except ValidationError as exc:
                    raise errors.invalid(_field_errors(exc, "body")) from None
            call = Call(request, request_id, current, principal, body, query)
            response = _render(endpoint, await endpoint.handler(call), request_id)
            if endpoint.method != "GET" and not endpoint.public:
                await _settle(current)
            return response
        except ApiError as exc:
            headers = {"www-authenticate": "Bearer"} if exc.problem.status == 401 else None
            return problem_response(exc, request_id, headers)
        except NotFound:
            return problem_response(ApiError(errors.NOT_FOUND, "no such object"), request_id)
        except Forbidden as exc:
            return problem_response(ApiError(errors.FORBIDDEN, str(exc)), request_id)
        except Conflict as exc:
            return problem_response(ApiError(errors.CONFLICT, str(exc), **exc.extra), request_id)
        except Invalid as exc:
            problems = [{**problem, "loc": ["body", *problem["loc"]]} for problem in exc.problems]
            return problem_response(errors.invalid(problems), request_id)
        except Exception:
            log.exception("control API: %s %s failed (request %s)", endpoint.method, endpoint.path, request_id)
            return problem_response(ApiError(errors.INTERNAL, "see the control API log"), request_id)

    run.__name__ = endpoint.name
    run.__doc__ = endpoint.summary
    return run
