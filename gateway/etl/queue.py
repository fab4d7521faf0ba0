"""The durable queue between whoever starts a run (control API, CLI, scheduler, webhook) and the ETL workers.

PostgreSQL catalog (clusters): procrastinate, a maintained queue on PostgreSQL (FOR UPDATE SKIP LOCKED,
LISTEN/NOTIFY for low latency, worker heartbeats). Its tables come with catalog migration 12, so the catalog
keeps one schema history. A queued run is one procrastinate job `splp.etl.run(run_id)` on queue `etl`.

SQLite catalog (the embedded default): procrastinate runs on PostgreSQL only, and SQLite is one file on one
machine, so there is nothing to distribute: the `queued` run rows are the queue, polled by the workers on
that machine and claimed under SQLite's single-writer lock (RunStore.claim). Either way the run row decides
who runs what: a claim is one conditional UPDATE and a unique index lets one run per job be `running`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Coroutine
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import procrastinate

from .state import RunStore

Handler = Callable[[str], Coroutine[Any, Any, None]]
QUEUE = "etl"
TASK = "splp.etl.run"
RETRY_SECONDS = 1  # a run whose job is busy is offered again this much later
POLL_SECONDS = 0.5  # SQLite: how often idle workers look for queued runs


class RunQueue(Protocol):
    async def enqueue(self, run_id: str, *, delay: int = 0) -> None: ...

    async def serve(self, handle: Handler, *, concurrency: int, name: str, stop: asyncio.Event) -> None:
        """Hands queued runs to `handle` (at most `concurrency` at once) until `stop` is set; then waits for
        the runs being handled to return."""
        ...

    async def close(self) -> None: ...


# libpq's own URI parameters; any other query parameter of a catalog URI is a server setting for asyncpg
# (e.g. ?search_path=tenant_x), which libpq takes as `options=-c name=value`.
_LIBPQ = frozenset(
    "host hostaddr port dbname user password passfile channel_binding connect_timeout client_encoding options "
    "application_name fallback_application_name keepalives keepalives_idle keepalives_interval keepalives_count "
    "tcp_user_timeout replication gssencmode sslmode requiressl sslcompression sslcert sslkey sslpassword "
    "sslcertmode sslrootcert sslcrl sslcrldir sslsni requirepeer ssl_min_protocol_version "
    "ssl_max_protocol_version krbsrvname gsslib gssdelegation service target_session_attrs load_balance_hosts".split()
)


def libpq_conninfo(uri: str) -> str:
    """The catalog's asyncpg URI as libpq (psycopg) reads it: server settings move into `options`."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    settings = [f"-c {k}={v}" for k, v in query if k not in _LIBPQ]
    kept = [(k, v) for k, v in query if k in _LIBPQ and k != "options"]
    options = " ".join([*(v for k, v in query if k == "options"), *settings])
    if options:
        kept.append(("options", options))
    return urlunsplit(parts._replace(query=urlencode(kept, quote_via=quote)))


class ProcrastinateQueue:
    def __init__(self, dsn: str) -> None:
        connector = procrastinate.PsycopgConnector(
            conninfo=libpq_conninfo(dsn),
            kwargs={"application_name": "splp-etl-queue"},
            min_size=1,
            max_size=4,
            timeout=10,
        )
        self.app = procrastinate.App(connector=connector)
        self._handle: Handler | None = None

        @self.app.task(name=TASK, queue=QUEUE)
        async def run(run_id: str) -> None:
            if self._handle is None:  # a worker always sets it before serving
                raise RuntimeError("no ETL run handler in this process")
            await self._handle(run_id)

        self._task = run

    async def open(self) -> None:
        await self.app.open_async()

    async def enqueue(self, run_id: str, *, delay: int = 0) -> None:
        deferrer = self._task.configure(schedule_in={"seconds": delay}) if delay else self._task
        await deferrer.defer_async(run_id=run_id)

    async def serve(self, handle: Handler, *, concurrency: int, name: str, stop: asyncio.Event) -> None:
        self._handle = handle
        worker = asyncio.create_task(
            self.app.run_worker_async(
                queues=[QUEUE],
                concurrency=concurrency,
                name=name,
                install_signal_handlers=False,
                delete_jobs="successful",
                fetch_job_polling_interval=POLL_SECONDS * 4,
            )
        )
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({worker, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not worker.done():
            worker.cancel()  # procrastinate stops fetching and waits for the jobs it runs
        stopped.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker

    async def close(self) -> None:
        await self.app.close_async()


class RunRowQueue:
    """SQLite: queued run rows are the queue (see the module docstring)."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    async def enqueue(self, run_id: str, *, delay: int = 0) -> None:
        """Nothing to add: the run row in state `queued` is the entry; workers find it by polling."""

    async def serve(self, handle: Handler, *, concurrency: int, name: str, stop: asyncio.Event) -> None:
        running: dict[str, asyncio.Task[None]] = {}
        while not stop.is_set():
            free = concurrency - len(running)
            if free > 0:
                for run_id in await self.store.queued(free + len(running)):
                    if run_id not in running and len(running) < concurrency:
                        task = asyncio.create_task(handle(run_id), name=f"etl-run-{run_id}")
                        running[run_id] = task
                        task.add_done_callback(functools.partial(_forget, running, run_id))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_SECONDS)
        if running:
            await asyncio.wait(set(running.values()))

    async def close(self) -> None:
        return None


def _forget(running: dict[str, asyncio.Task[None]], run_id: str, _task: object) -> None:
    running.pop(run_id, None)


async def open_queue(store: RunStore, catalog_uri: str) -> RunQueue:
    """The queue that goes with the catalog at `catalog_uri` (the same database holds both)."""
    if store.db.dialect == "postgres":
        queue = ProcrastinateQueue(catalog_uri)
        await queue.open()
        return queue
    return RunRowQueue(store)
