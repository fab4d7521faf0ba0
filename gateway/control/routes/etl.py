"""Konsolidasi Data (ETL): job files, previews and runs through the control API.

Jobs are YAML files in the jobs folder (`conf/etl` beside the gateway config unless told otherwise); a
job's name in the API is its file stem, limited to [A-Za-z0-9_.-]+ and resolved inside that folder.
A job belongs to the tenant named by its `tenant:` key (a slug); a job without one, or with a tenant
that does not exist, is seen by super admins only. A run belongs to its job file's tenant; runs of job
files outside the jobs folder (started with the CLI on a shared state store) are super-admin only.

Reading jobs, runs and logs: super admins, tenant admins and auditors whose scope holds the tenant.
Previewing, starting, cancelling and resuming: super admins and tenant admins. Outside the scope: 404.
Runs execute in ETL workers (`splp etl worker`); this process only writes run records and the queue.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from gateway.catalog.db import Database
from gateway.catalog.errors import NotFound
from gateway.catalog.models import Role
from gateway.control import errors
from gateway.control.access import ADMINS, READERS, Principal
from gateway.control.endpoints import Call, Endpoint, JSONResponse, Page, QueryParam
from gateway.control.errors import ApiError
from gateway.etl import webhooks
from gateway.etl.connections import ConnectionSecrets, master_key
from gateway.etl.errors import EtlError, JobConfigError, RunNotFound, RunStateError
from gateway.etl.load import load_job
from gateway.etl.model import FileSource, JobConfig
from gateway.etl.queue import open_queue
from gateway.etl.service import EtlService
from gateway.etl.state import RunRecord, RunState, RunStore

JOB_NAME = re.compile(r"[A-Za-z0-9_.-]+")
SUFFIXES = (".yaml", ".yml")
RUN_SCAN = 1000  # most recent runs a listing looks through
PREVIEW_ROWS = 50
PREVIEW_SECONDS = 30.0


class EtlHub:
    """The jobs folder and the ETL service of one control app: run records in the catalog's own database, the
    queue that goes with it (opened on first use). Runs execute in ETL workers, never in this process."""

    def __init__(self, jobs_dir: str | Path, catalog_uri: str) -> None:
        self.jobs_dir = Path(jobs_dir)
        self.catalog_uri = catalog_uri
        self._service: EtlService | None = None
        self._lock: asyncio.Lock | None = None

    async def service(self, db: Database) -> EtlService:
        if self._service is None:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self._service is None:
                    store = RunStore(db)
                    self._service = EtlService(store, await open_queue(store, self.catalog_uri))
        return self._service

    async def close(self) -> None:
        service, self._service = self._service, None
        if service is not None:
            await service.queue.close()

    @property
    def root(self) -> Path:
        return self.jobs_dir.resolve()


# --- models ---------------------------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class EtlStep(_Out):
    name: str = Field(description="step name")
    source: str = Field(description="`file (format)` or `connection.table`")
    target: str = Field(description="`connection.table`")
    mode: str = Field(description="append, upsert, replace or incremental")


class EtlJob(_Out):
    name: str = Field(description="the job's name in the API: its file stem")
    job: str | None = Field(description="the `name:` inside the file (IDMap, watermarks and checkpoints)")
    description: str = Field(description="what the job is for")
    tenant: str | None = Field(description="slug of the owning tenant; null: super admins only")
    steps: list[str] = Field(description="step names, as written")
    valid: bool = Field(description="the file loads; false: see `errors`")
    errors: list[str] = Field(description="validation problems: key path and expectation")


class EtlJobDetail(EtlJob):
    file: str = Field(description="file name inside the jobs folder")
    params: dict[str, Any] = Field(description="declared parameters and their defaults")
    connections: dict[str, str] = Field(description="connection name -> kind (credentials are not shown)")
    step_details: list[EtlStep] = Field(description="each step's source, target and mode")
    message: str | None = Field(description="the loader's full message when the file is invalid")


class EtlPreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    params: dict[str, str | int | float | bool] = Field(default_factory=dict, description="job parameters")
    rows: int = Field(5, ge=1, le=PREVIEW_ROWS, description="sample rows per step")


class EtlPreview(_Out):
    job: str = Field(description="job name inside the file")
    order: list[str] = Field(description="steps in the order they would run")
    deferred: list[str] = Field(description="FK columns loaded as NULL and filled in after the cycle")
    steps: list[dict[str, Any]] = Field(description="per step: column mapping, unmapped columns, sample rows")


class EtlRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    params: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="job parameters (declared in the job's `params`)"
    )


class EtlRunAccepted(_Out):
    run_id: str = Field(description="run id; poll GET /api/v1/etl/runs/{id}")
    state: str = Field(description="the run's state now")


class EtlRun(_Out):
    id: str = Field(description="run id")
    job: str = Field(description="job name in the API (file stem), or the file's job name outside the jobs folder")
    tenant: str | None = Field(description="slug of the job's tenant")
    state: str = Field(description="queued, running, succeeded, failed, cancelled or interrupted")
    params: dict[str, Any] = Field(description="parameters given to the run")
    created_at: str = Field(description="ISO time the run was queued")
    started_at: str | None = Field(description="ISO time the (last) attempt started")
    finished_at: str | None = Field(description="ISO time the run ended")
    error: str | None = Field(description="why the run failed or stopped")
    steps: dict[str, dict[str, Any]] = Field(description="per step: read, written, skipped, rejected, seconds")
    reconcile: dict[str, dict[str, Any]] = Field(description="per step: source/target rows and checksums")
    attempts: int = Field(description="1 + resumes")
    worker: str | None = Field(description="the ETL worker holding (or last holding) the run")
    heartbeat_at: str | None = Field(description="ISO time its worker last said it was alive")
    cancel_requested: bool = Field(description="a cancel was asked; a running run stops after its batch")


class EtlLogEntry(_Out):
    at: str
    level: str
    message: str


class EtlRunLogs(_Out):
    run_id: str
    items: list[EtlLogEntry]


# --- job files ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class JobFile:
    name: str
    path: Path
    tenant: str | None
    config: JobConfig | None
    error: JobConfigError | None


def _bad_name(name: str) -> ApiError:
    return errors.invalid(
        [
            {
                "loc": ["path", "name"],
                "msg": "a job name is a file stem of letters, digits, _ . - (not starting with a dot)",
                "type": "job_name",
            }
        ]
    )


def job_path(hub: EtlHub, name: str) -> Path:
    """The job file for `name` inside the jobs folder; 422 for an unsafe name, 404 when there is none."""
    if not JOB_NAME.fullmatch(name) or name.startswith("."):
        raise _bad_name(name)
    root = hub.root
    for suffix in SUFFIXES:
        candidate = (root / (name + suffix)).resolve()
        if not candidate.is_relative_to(root) or candidate.parent != root:
            raise _bad_name(name)
        if candidate.is_file():
            return candidate
    raise NotFound(name)


def _raw_tenant(text: str) -> str | None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    tenant = data.get("tenant") if isinstance(data, dict) else None
    return tenant if isinstance(tenant, str) and tenant else None


def _read(name: str, path: Path) -> JobFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    try:
        config = load_job(path)
    except JobConfigError as exc:
        shown = JobConfigError(path.name, exc.problems)  # the file named inside the jobs folder, not the host
        return JobFile(name, path, _raw_tenant(text), None, shown)
    return JobFile(name, path, config.tenant, config, None)


async def read_job(hub: EtlHub, name: str) -> JobFile:
    path = job_path(hub, name)
    return await asyncio.to_thread(_read, name, path)


def _job_names(hub: EtlHub) -> list[tuple[str, Path]]:
    root = hub.root
    if not root.is_dir():
        return []
    found: dict[str, Path] = {}
    for path in sorted(root.iterdir()):
        if path.suffix in SUFFIXES and JOB_NAME.fullmatch(path.stem) and not path.stem.startswith("."):
            if path.is_file() and path.resolve().parent == root:
                found.setdefault(path.stem, path)
    return sorted(found.items())


class Scope:
    """Tenant slugs -> ids, resolved once per request."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self._ids: dict[str, str | None] = {}

    async def sees(self, tenant: str | None) -> bool:
        principal: Principal = self.call.principal
        if principal.scope is None:
            return True
        if tenant is None:
            return False
        if tenant not in self._ids:
            try:
                self._ids[tenant] = (await self.call.store.tenants.get_by_slug(tenant)).id
            except NotFound:
                self._ids[tenant] = None
        tenant_id = self._ids[tenant]
        return tenant_id is not None and principal.sees(tenant_id)


async def _visible_job(call: Call) -> JobFile:
    job = await read_job(hub_of(call), call.path("name"))
    if not await Scope(call).sees(job.tenant):
        raise NotFound(job.name)
    return job


def _summary(job: JobFile) -> dict[str, Any]:
    config = job.config
    return {
        "name": job.name,
        "job": config.name if config else None,
        "description": config.description if config else "",
        "tenant": job.tenant,
        "steps": [s.name for s in config.steps] if config else [],
        "valid": config is not None,
        "errors": job.error.problems if job.error else [],
    }


def _source(step: Any) -> str:
    src = step.source
    return f"{src.file} ({src.format})" if isinstance(src, FileSource) else f"{src.connection}.{src.table}"


def job_error(exc: EtlError, file: str) -> ApiError:
    """ETL failures a caller can fix: 422 with the loader's or planner's message."""
    if isinstance(exc, JobConfigError):
        shown = JobConfigError(file, exc.problems)  # named inside the jobs folder, not by its host path
        problems = []
        for problem in exc.problems:
            where, _, what = problem.partition(": ")
            problems.append({"loc": ["job", file, where], "msg": what or where, "type": "job_config"})
        return ApiError(errors.INVALID, str(shown), errors=problems)
    return ApiError(errors.INVALID, str(exc), errors=[{"loc": ["job", file], "msg": str(exc), "type": "etl"}])


def _valid(job: JobFile) -> JobConfig:
    if job.config is None:
        raise job_error(job.error or JobConfigError(job.path.name, ["cannot be read"]), job.path.name)
    return job.config


# --- runs -----------------------------------------------------------------------------------------------


def _run_job(hub: EtlHub, record: RunRecord) -> tuple[str, Path | None]:
    """The run's job name in the API and its file, when that file is a job of the jobs folder."""
    path = Path(record.job_file)
    try:
        resolved = path.resolve()
    except OSError:
        return record.job, None
    if resolved.parent == hub.root and resolved.suffix in SUFFIXES and JOB_NAME.fullmatch(resolved.stem):
        return resolved.stem, resolved
    return record.job, None


class RunScope(Scope):
    def __init__(self, call: Call) -> None:
        super().__init__(call)
        self._tenants: dict[Path, str | None] = {}

    async def tenant(self, path: Path | None) -> str | None:
        if path is None:
            return None
        if path not in self._tenants:
            try:
                text = await asyncio.to_thread(path.read_text, encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = ""
            self._tenants[path] = _raw_tenant(text)
        return self._tenants[path]

    async def view(self, record: RunRecord) -> EtlRun | None:
        """The run as the caller may see it, or None when it is outside their scope."""
        name, path = _run_job(hub_of(self.call), record)
        tenant = await self.tenant(path)
        if not await self.sees(tenant):
            return None
        return EtlRun(
            id=record.id,
            job=name,
            tenant=tenant,
            state=record.state,
            params=record.params,
            created_at=record.created_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            error=record.error,
            steps=record.steps,
            reconcile=record.reconcile,
            attempts=record.attempts,
            worker=record.worker,
            heartbeat_at=record.heartbeat_at,
            cancel_requested=record.cancel_requested,
        )


async def _visible_run(call: Call) -> tuple[EtlService, RunRecord, EtlRun]:
    service = await hub_of(call).service(call.store.db)
    run_id = call.path("id")
    try:
        record = await service.get_run(run_id)
    except RunNotFound:
        raise NotFound(run_id) from None
    view = await RunScope(call).view(record)
    if view is None:
        raise NotFound(run_id)
    return service, record, view


def hub_of(call: Call) -> EtlHub:
    hub = call.services.etl
    if hub is None:
        raise ApiError(errors.INTERNAL, "the ETL is not configured in this control API")
    return hub


def _accepted(run_id: str, state: str) -> Response:
    body = EtlRunAccepted(run_id=run_id, state=state).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={"location": f"/api/v1/etl/runs/{run_id}"})


# --- handlers -------------------------------------------------------------------------------------------


async def list_etl_jobs(call: Call) -> Page:
    hub = hub_of(call)
    scope = Scope(call)
    jobs = await asyncio.to_thread(lambda: [_read(name, path) for name, path in _job_names(hub)])
    visible = [EtlJob(**_summary(job)) for job in jobs if await scope.sees(job.tenant)]
    limit, offset = call.query["limit"], call.query["offset"]
    return Page(visible[offset : offset + limit], limit, offset)


async def get_etl_job(call: Call) -> EtlJobDetail:
    job = await _visible_job(call)
    config = job.config
    return EtlJobDetail(
        **_summary(job),
        file=job.path.name,
        params=dict(config.params) if config else {},
        connections={name: c.kind for name, c in config.connections.items()} if config else {},
        step_details=[
            EtlStep(name=s.name, source=_source(s), target=f"{s.target.connection}.{s.target.table}", mode=s.mode)
            for s in (config.steps if config else ())
        ],
        message=str(job.error) if job.error else None,
    )


async def preview_etl_job(call: Call) -> Any:
    body: EtlPreviewRequest = call.body
    job = await _visible_job(call)
    _valid(job)
    service = await hub_of(call).service(call.store.db)
    try:
        async with asyncio.timeout(PREVIEW_SECONDS):
            result = await service.preview(job.path, dict(body.params), rows=body.rows)
    except TimeoutError:
        raise ApiError(
            errors.INVALID,
            f"the preview took longer than {PREVIEW_SECONDS:g} s; check the sources",
            errors=[{"loc": ["job", job.path.name], "msg": "preview timed out", "type": "timeout"}],
        ) from None
    except EtlError as exc:
        raise job_error(exc, job.path.name) from None
    return orjson.loads(orjson.dumps(result, default=str))  # dates as ISO, decimals and bytes as text


async def start_etl_run(call: Call) -> Response:
    body: EtlRunRequest = call.body
    job = await _visible_job(call)
    _valid(job)
    service = await hub_of(call).service(call.store.db)
    try:
        run_id = await service.start_run(job.path, dict(body.params))
    except RunStateError as exc:
        raise ApiError(errors.CONFLICT, str(exc)) from None
    except EtlError as exc:
        raise job_error(exc, job.path.name) from None
    return _accepted(run_id, (await service.get_run(run_id)).state)


_STATES = get_args(RunState)


async def list_etl_runs(call: Call) -> Page:
    state, job = call.query["state"], call.query["job"]
    if state is not None and state not in _STATES:
        raise errors.invalid(
            [{"loc": ["query", "state"], "msg": f"expected one of {', '.join(_STATES)}", "type": "enum"}]
        )
    service = await hub_of(call).service(call.store.db)
    scope = RunScope(call)
    views = []
    for record in await service.store.list_runs(limit=RUN_SCAN, state=state):
        view = await scope.view(record)
        if view is not None and (job is None or view.job == job):
            views.append(view)
    limit, offset = call.query["limit"], call.query["offset"]
    return Page(views[offset : offset + limit], limit, offset)


async def get_etl_run(call: Call) -> EtlRun:
    return (await _visible_run(call))[2]


async def get_etl_run_logs(call: Call) -> EtlRunLogs:
    service, record, _ = await _visible_run(call)
    items = [EtlLogEntry(**entry) for entry in await service.logs(record.id)]
    return EtlRunLogs(run_id=record.id, items=items)


async def cancel_etl_run(call: Call) -> Response:
    service, record, _ = await _visible_run(call)
    try:
        after = await service.cancel(record.id)
    except RunStateError as exc:
        raise ApiError(errors.CONFLICT, str(exc)) from None
    return _accepted(record.id, after.state)


async def resume_etl_run(call: Call) -> Response:
    service, record, view = await _visible_run(call)
    if _run_job(hub_of(call), record)[1] is None:
        raise ApiError(errors.CONFLICT, f"run {record.id} was started from a job file outside the jobs folder")
    try:
        after = await service.resume(record.id)
    except RunStateError as exc:
        raise ApiError(errors.CONFLICT, str(exc)) from None
    except EtlError as exc:
        raise job_error(exc, Path(record.job_file).name) from None
    return _accepted(record.id, after.state)


class EtlConnectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=100, description="name jobs use: {kind: catalog, name}")
    connection: dict[str, Any] = Field(
        description="a postgres {kind, dsn}, mysql {kind, host, port, user, password, database, timezone} or "
        "sqlite {kind, path} connection; sealed with the master key, never returned"
    )


class EtlConnection(_Out):
    name: str = Field(description="the connection's name")
    kind: str = Field(description="postgres, mysql or sqlite")
    created_at: str
    updated_at: str


async def _secrets(call: Call) -> ConnectionSecrets:
    return ConnectionSecrets(call.store.db, await master_key())


async def put_etl_connection(call: Call) -> EtlConnection:
    body: EtlConnectionRequest = call.body
    secrets = await _secrets(call)
    try:
        await secrets.put(body.name, body.connection)
    except ValidationError as exc:
        problems = [
            {"loc": ["body", "connection", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        raise errors.invalid(problems) from None
    return next(EtlConnection(**c) for c in await secrets.listing() if c["name"] == body.name)


async def list_etl_connections(call: Call) -> Page:
    items = [EtlConnection(**c) for c in await (await _secrets(call)).listing()]
    limit, offset = call.query["limit"], call.query["offset"]
    return Page(items[offset : offset + limit], limit, offset)


async def delete_etl_connection(call: Call) -> None:
    if not await (await _secrets(call)).delete(call.path("name")):
        raise NotFound(call.path("name"))


_REFUSED = {
    "bad_signature": errors.WEBHOOK_SIGNATURE,
    "stale_timestamp": errors.WEBHOOK_STALE,
    "replayed": errors.WEBHOOK_REPLAYED,
}


def _job_by_token(hub: EtlHub, token: str) -> JobFile | None:
    """The job whose webhook token is `token` (compared in constant time with every job's)."""
    found = None
    for name, path in _job_names(hub):
        job = _read(name, path)
        hook = job.config.webhook if job.config else None
        if hook is not None and hmac.compare_digest(hook.token.encode(), token.encode()):
            found = job
    return found


async def _raw_body(call: Call, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in call.request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(errors.TOO_LARGE, f"a webhook body may hold at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def receive_etl_hook(call: Call) -> Response:
    """A signed request from a source application starts a run of the job the token names."""
    hub = hub_of(call)
    job = await asyncio.to_thread(_job_by_token, hub, call.path("token"))
    if job is None or job.config is None or job.config.webhook is None:
        raise NotFound("no such webhook")
    hook = job.config.webhook
    body = await _raw_body(call, webhooks.MAX_BODY)
    try:
        _, nonce = webhooks.check_signature(hook.secret, dict(call.request.headers), body)
        await webhooks.remember_nonce(call.store.db, job.config.name, nonce)
    except webhooks.WebhookRefused as exc:
        raise ApiError(_REFUSED[exc.reason], str(exc)) from None
    try:
        request = EtlRunRequest.model_validate(orjson.loads(body) if body.strip() else {})
    except orjson.JSONDecodeError as exc:
        raise ApiError(errors.BAD_REQUEST, f"the body is not JSON: {exc}") from None
    except ValidationError as exc:
        problems = [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise errors.invalid(problems) from None
    allowed = hook.params if hook.params is not None else tuple(job.config.params)
    extra = sorted(set(request.params) - set(allowed))
    if extra:
        raise errors.invalid(
            [
                {"loc": ["body", "params", k], "msg": "not a parameter this webhook passes", "type": "param"}
                for k in extra
            ]
        )
    service = await hub.service(call.store.db)
    try:
        run_id = await service.start_run(job.path, dict(request.params))
    except EtlError as exc:
        raise job_error(exc, job.path.name) from None
    await service.store.log(run_id, "info", f"started by the webhook of job {job.name} (nonce {nonce})")
    return _accepted(run_id, "queued")


_TAG = "etl"
_JOB = "/api/v1/etl/jobs/{name}"
_RUN = "/api/v1/etl/runs/{id}"
_PAGE = (
    QueryParam("limit", "Page size.", int, 1, 500, 50),
    QueryParam("offset", "Items to skip.", int, 0, None, 0),
)
_ACCEPTED = "202 with a Location header naming the run; poll it until its state is succeeded, failed or cancelled."
_SUPER = frozenset({Role.SUPER_ADMIN})
ENDPOINTS = (
    Endpoint(
        "POST",
        "/api/v1/etl/connections",
        put_etl_connection,
        "Register (or replace) an ETL connection; its credentials are sealed and never returned",
        _TAG,
        roles=_SUPER,
        body=EtlConnectionRequest,
        response=EtlConnection,
        description="Jobs name it as `{kind: catalog, name: ...}`; a worker unseals it when it runs the job.",
    ),
    Endpoint(
        "GET",
        "/api/v1/etl/connections",
        list_etl_connections,
        "ETL connections registered in the catalog (names and kinds only)",
        _TAG,
        roles=_SUPER,
        response=EtlConnection,
        many=True,
        query=_PAGE,
    ),
    Endpoint(
        "DELETE",
        "/api/v1/etl/connections/{name}",
        delete_etl_connection,
        "Remove a registered ETL connection",
        _TAG,
        roles=_SUPER,
        status=204,
    ),
    Endpoint(
        "POST",
        "/api/v1/etl/hooks/{token}",
        receive_etl_hook,
        "Start a run of the job whose webhook token this is (signed request, no bearer token)",
        _TAG,
        public=True,
        response=EtlRunAccepted,
        status=202,
        description="Headers X-SPLP-Timestamp (unix seconds), X-SPLP-Nonce (16-128 of [A-Za-z0-9_-]) and "
        'X-SPLP-Signature: sha256=hex(HMAC-SHA256(secret, "<timestamp>.<nonce>." + body)) with the job\'s '
        '`webhook.secret`; body (optional) `{"params": {...}}`, at most 64 KiB. 401 webhook-bad-signature or '
        "webhook-stale-timestamp (more than 300 s off), 409 webhook-replayed (nonce seen), 404 unknown token.",
    ),
    Endpoint(
        "GET",
        "/api/v1/etl/jobs",
        list_etl_jobs,
        "ETL jobs of my tenants (files in the jobs folder)",
        _TAG,
        roles=READERS,
        response=EtlJob,
        many=True,
        query=_PAGE,
        description="Invalid files are listed with valid=false and their problems.",
    ),
    Endpoint(
        "GET",
        _JOB,
        get_etl_job,
        "One ETL job: steps, parameters, connections, validation problems",
        _TAG,
        roles=READERS,
        response=EtlJobDetail,
        description="`name` is the file stem ([A-Za-z0-9_.-]+); anything else answers 422.",
    ),
    Endpoint(
        "POST",
        _JOB + "/preview",
        preview_etl_job,
        "What a run would do, without writing: plan and sample rows",
        _TAG,
        roles=ADMINS,
        body=EtlPreviewRequest,
        response=EtlPreview,
        description=f"Synchronous, at most {PREVIEW_ROWS} rows per step and {PREVIEW_SECONDS:g} s. An invalid "
        "job file or a plan that cannot run (missing table, column, unknown parameter) answers 422.",
    ),
    Endpoint(
        "POST",
        _JOB + "/runs",
        start_etl_run,
        "Start a run of an ETL job",
        _TAG,
        roles=ADMINS,
        body=EtlRunRequest,
        response=EtlRunAccepted,
        status=202,
        description=_ACCEPTED + " An invalid job file or an unknown parameter answers 422.",
    ),
    Endpoint(
        "GET",
        "/api/v1/etl/runs",
        list_etl_runs,
        "ETL runs of my tenants' jobs, newest first",
        _TAG,
        roles=READERS,
        response=EtlRun,
        many=True,
        query=(
            QueryParam("job", "Only runs of this job (its name in the API)."),
            QueryParam("state", "queued, running, succeeded, failed, cancelled or interrupted."),
            *_PAGE,
        ),
        description=f"Looks through the {RUN_SCAN} most recent runs.",
    ),
    Endpoint(
        "GET",
        _RUN,
        get_etl_run,
        "One ETL run: state, per-step counts, reconciliation, timings, error",
        _TAG,
        roles=READERS,
        response=EtlRun,
    ),
    Endpoint(
        "GET", _RUN + "/logs", get_etl_run_logs, "The log of an ETL run", _TAG, roles=READERS, response=EtlRunLogs
    ),
    Endpoint(
        "POST",
        _RUN + "/cancel",
        cancel_etl_run,
        "Cancel an ETL run: a queued or interrupted one now, a running one after its current batch",
        _TAG,
        roles=ADMINS,
        response=EtlRunAccepted,
        status=202,
        description="409 when the run already ended.",
    ),
    Endpoint(
        "POST",
        _RUN + "/resume",
        resume_etl_run,
        "Resume a failed, cancelled or interrupted ETL run from its last committed batch",
        _TAG,
        roles=ADMINS,
        response=EtlRunAccepted,
        status=202,
        description=_ACCEPTED + " 409 when the run succeeded or is still running.",
    ),
)
