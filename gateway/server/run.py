"""Serving: uvicorn with uvloop + httptools, one process or N workers sharing one listening socket.

Roles (`splp serve --role`): `gateway` runs the data plane only, `control` the control API only, `all`
(the default) both. One worker: the gateway and the control API run as two uvicorn servers on one
event loop. N workers: a supervisor (uvicorn's Multiprocess) runs the gateway workers and forwards
SIGHUP to them (each reloads its own snapshot, no restart); the control API runs in the supervisor's
child process.
SIGTERM: /_ready answers 503 for `drain_delay` (drain.py), then stop accepting and let in-flight
requests finish for `graceful_timeout`, then exit 0. SIGINT (Ctrl-C): the same without the delay.
With role `all` (and the control API on), one ETL worker process (`splp etl worker`) runs beside them;
ETL runs never execute in the gateway's or the control API's process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from types import FrameType
from typing import Any, Literal

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess

from gateway.config.load import load_config
from gateway.config.model import Listen, LoadedConfig
from gateway.observability.logs import configure_logging

log = logging.getLogger("splp.server")


Role = Literal["gateway", "control", "all"]
ROLES: tuple[Role, ...] = ("gateway", "control", "all")


@dataclass(frozen=True, slots=True)
class ServeOptions:
    config_path: str
    role: Role = "all"
    workers: int | None = None
    host: str | None = None
    port: int | None = None
    log_level: str | None = None  # None: observability.log.level from the config
    status_port: int | None = None  # None: observability.status.port
    etl_worker: bool = True  # role all: one `splp etl worker` process beside (ARCHITECTURE.md)


def http_protocol(config: LoadedConfig) -> Any:
    """The hardened httptools protocol class bound to the configured limits."""
    from gateway.server.protocol import ServerLimits, protocol_class

    limits = config.gateway.gateway.limits
    return protocol_class(
        ServerLimits(
            header_timeout=limits.header_timeout,
            max_header_bytes=limits.max_header_bytes,
            max_headers=limits.max_headers,
            max_url_bytes=limits.max_url_bytes,
            underscore_headers=limits.underscore_headers,
        )
    )


def __getattr__(name: str) -> Any:
    """`WorkerProtocol`: what spawned workers import (a class built in a function cannot be pickled)."""
    if name == "WorkerProtocol":
        return http_protocol(load_config(os.environ["SPLP_CONFIG"]))
    raise AttributeError(name)


def gateway_address(config: LoadedConfig, options: ServeOptions) -> tuple[str, int]:
    """Where the data plane listens: --host/--port over gateway.listen."""
    listen = config.gateway.gateway.listen
    return options.host or listen.host, options.port if options.port is not None else listen.port


def gateway_uvicorn_config(config: LoadedConfig, options: ServeOptions, app: Any) -> uvicorn.Config:
    section = config.gateway.gateway
    in_workers = isinstance(app, str)
    host, port = gateway_address(config, options)
    return uvicorn.Config(
        app,
        factory=in_workers,
        host=host,
        port=port,
        loop="uvloop",
        http="gateway.server.run:WorkerProtocol" if in_workers else http_protocol(config),
        ws="none",
        lifespan="on",
        workers=options.workers or section.workers,
        timeout_keep_alive=int(section.limits.keepalive_timeout) or 1,
        timeout_graceful_shutdown=int(section.limits.graceful_timeout),
        access_log=False,  # the gateway writes its own (gateway/observability), off the request path
        log_config=None,  # one log format: the root logger's (gateway/observability/logs.py)
        proxy_headers=False,  # the client address is the socket peer; X-Forwarded-For is appended, not trusted
        server_header=False,
        date_header=False,  # the backend's Date passes through; the gateway dates its own answers
        log_level=options.log_level or config.gateway.observability.log.level,
        backlog=4096,
        **_tls_options(section.listen, "gateway"),
    )


def control_address(config: LoadedConfig, options: ServeOptions) -> tuple[str, int]:
    """Where the control API listens: control.listen, or --host/--port when it runs alone (--role control)."""
    listen = config.gateway.control.listen
    if options.role != "control":
        return listen.host, listen.port
    return options.host or listen.host, options.port if options.port is not None else listen.port


def control_uvicorn_config(config: LoadedConfig, options: ServeOptions) -> uvicorn.Config:
    from gateway.control.app import create_control_app

    host, port = control_address(config, options)
    return uvicorn.Config(
        create_control_app(config),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="on",
        access_log=False,
        log_config=None,  # one log format: the root logger's (gateway/observability/logs.py)
        server_header=False,
        log_level=options.log_level or config.gateway.observability.log.level,
        **_tls_options(config.gateway.control.listen, "control"),
    )


def status_address(config: LoadedConfig, options: ServeOptions) -> tuple[str, int]:
    status = config.gateway.observability.status
    return status.host, options.status_port if options.status_port is not None else status.port


def status_uvicorn_config(
    config: LoadedConfig, options: ServeOptions, gateway: Any, *, app: Any = None
) -> uvicorn.Config:
    """The status listener over one worker's GatewayApp (`gateway`), or a prepared ASGI `app`."""
    from gateway.observability.status import StatusApp

    status = config.gateway.observability.status
    return uvicorn.Config(
        app if app is not None else StatusApp(gateway),
        host=status.host,
        port=options.status_port if options.status_port is not None else status.port,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="off",
        access_log=False,
        server_header=False,
        log_config=None,
        log_level=options.log_level or config.gateway.observability.log.level,
    )


def _tls_options(listen: Listen, name: str) -> dict[str, Any]:
    """uvicorn.Config keywords for a TLS listener: our context factory (SNI, reload, client certificates)."""
    if listen.tls is None:
        return {}
    from gateway.server.tls import context_factory

    return {"ssl_context_factory": functools.partial(context_factory, listen.tls, name)}


class BindError(Exception):
    """A listener's address cannot be bound (in use, not local, no permission)."""


def listen_socket(host: str, port: int, key: str) -> socket.socket:
    """Binds the address now, so a taken port stops `splp serve` before anything starts, naming the
    config key to change, instead of a server left running without its listener."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror.lower() if exc.strerror else str(exc)
        raise BindError(f"cannot listen on {host}:{port} ({key}): {reason}") from None
    sock.set_inheritable(True)
    return sock


def serve(options: ServeOptions) -> int:
    """Exit status: 0 after a signal, 1 when a listener cannot be bound, 3 when startup fails."""
    config = load_config(options.config_path)  # fails before any port is bound
    configure_logging(config.gateway.observability.log, level=options.log_level)
    os.environ["SPLP_CONFIG"] = os.path.abspath(config.path)
    gateway_role = options.role != "control"
    with_control = options.role == "control" or (options.role == "all" and config.gateway.control.enabled)
    with_status = gateway_role and config.gateway.observability.status.enabled
    sockets: list[socket.socket] = []
    try:  # before any app is built: a taken port is reported in the time it takes to load the config
        if gateway_role:
            sockets.append(listen_socket(*gateway_address(config, options), "gateway.listen"))
        if with_control:
            sockets.append(listen_socket(*control_address(config, options), "control.listen"))
        if with_status:
            sockets.append(listen_socket(*status_address(config, options), "observability.status"))
    except BindError as exc:
        log.error("%s", exc)
        for sock in sockets:
            sock.close()
        return 1
    # ETL runs never execute in the gateway's or the control API's process: `all` starts one worker beside them.
    with_etl = options.etl_worker and options.role == "all" and with_control
    etl = _start_etl_worker(config) if with_etl else None
    try:
        return _serve(config, options, sockets, with_control=with_control, with_status=with_status)
    finally:
        if etl is not None:
            _stop_etl_worker(etl)


def _start_etl_worker(config: LoadedConfig) -> subprocess.Popen[bytes]:
    """ETL runs never execute in the gateway's or the control API's process: they get a worker of their own
    (gateway/etl/worker.py) on the same catalog."""
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.etl", "--config", os.path.abspath(config.path), "worker", "--exit-with-parent"],
        start_new_session=True,  # Ctrl-C reaches it through our SIGTERM, after the gateway drained
    )


def _stop_etl_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM: its runs stop after their current batch and are queued again for the next worker."""
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            log.warning("the ETL worker did not stop in 30 s; killing it (its runs resume from their checkpoints)")
            worker.kill()
            worker.wait()


def _serve(
    config: LoadedConfig, options: ServeOptions, sockets: list[socket.socket], *, with_control: bool, with_status: bool
) -> int:
    gateway_role = options.role != "control"
    in_workers = gateway_role and (options.workers or config.gateway.gateway.workers) > 1
    if not gateway_role:
        _run_servers([control_uvicorn_config(config, options)], sockets)
        return 0
    metrics_dir = None
    if in_workers:
        # prometheus_client multi-process mode: each worker keeps its values in files here; the status process
        # sums them. Set before any worker starts (they read it when prometheus_client is imported).
        metrics_dir = tempfile.mkdtemp(prefix="splp-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        app: Any = "gateway.app:create_app"
    else:
        from gateway.app import GatewayApp

        app = GatewayApp(config)
    uv_config = gateway_uvicorn_config(config, options, app)
    if not in_workers:
        configs = [uv_config]
        if with_control:
            configs.append(control_uvicorn_config(config, options))
        if with_status:
            configs.append(status_uvicorn_config(config, options, app))
        _run_servers(configs, sockets)
        return 0
    control = _spawn(_control_main, options, sockets[1], "splp-control") if with_control else None
    status = _spawn(_status_main, options, sockets[-1], "splp-status") if with_status else None
    supervisor = GatewaySupervisor(uv_config, sockets=sockets[:1], control=control)
    try:
        supervisor.run()
    finally:
        for process in (control, status):
            if process is not None and process.is_alive():
                process.terminate()
                process.join(10)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return supervisor.exit_code


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to `_stop_signals` (one handler for every server of the process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _run_servers(configs: list[uvicorn.Config], sockets: list[socket.socket]) -> None:
    import uvloop

    servers: list[uvicorn.Server] = [_Server(config) for config in configs]
    with _stop_signals(servers), asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve_all(servers, sockets))


@contextlib.contextmanager
def _stop_signals(servers: list[uvicorn.Server]) -> Iterator[None]:
    """SIGTERM/SIGINT tell every server to stop (one handler for all of them, so none re-raises the
    signal when it ends: the process exits 0 once all have shut down). The gateway app wraps the SIGTERM
    handler with its drain delay when it starts (drain.py)."""

    def stop(sig: int, frame: FrameType | None) -> None:
        for server in servers:
            server.handle_exit(sig, frame)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def _serve_all(servers: list[uvicorn.Server], sockets: list[socket.socket]) -> None:
    """Runs servers together, each on its bound socket; when one stops (signal or failure) the others are
    told to stop too."""
    tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in zip(servers, sockets, strict=True)]
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()


def _control_main(options: ServeOptions, sock: socket.socket) -> None:
    config = load_config(options.config_path)
    configure_logging(config.gateway.observability.log, level=options.log_level)
    uvicorn.Server(control_uvicorn_config(config, options)).run(sockets=[sock])


def _status_main(options: ServeOptions, sock: socket.socket) -> None:
    """The status listener of a multi-worker server: /metrics summed over the workers, /_ready via the data port."""
    from gateway.observability.status import WorkersStatusApp

    config = load_config(options.config_path)
    configure_logging(config.gateway.observability.log, level=options.log_level)
    listen = config.gateway.gateway.listen
    host = options.host or listen.host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    port = options.port if options.port is not None else listen.port
    app = WorkersStatusApp(f"http://{host}:{port}")
    uvicorn.Server(status_uvicorn_config(config, options, None, app=app)).run(sockets=[sock])


def _spawn(target: Any, options: ServeOptions, sock: socket.socket, name: str) -> SpawnProcess:
    import multiprocessing

    process = multiprocessing.get_context("spawn").Process(target=target, args=(options, sock), name=name)
    process.start()
    return process


class GatewaySupervisor(Multiprocess):
    """uvicorn's supervisor, except SIGHUP: workers reload their snapshot in place instead of restarting.
    It also watches the control-API process: if that one dies, everything stops (non-zero exit status)
    rather than serving on without it, as it does when workers cannot start."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket], control: SpawnProcess | None) -> None:
        super().__init__(config, sockets)
        self._control = control
        self.exit_code = 0

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        if self.should_exit.is_set() and any(p.exitcode == STARTUP_FAILURE for p in self.processes):
            self.exit_code = STARTUP_FAILURE
        control = self._control
        if control is not None and not self.should_exit.is_set() and not control.is_alive():
            log.error("the control API process stopped (exit status %s); stopping the gateway", control.exitcode)
            self.exit_code = control.exitcode or 1
            self.should_exit.set()

    def handle_hup(self) -> None:
        log.info("SIGHUP: asking %d workers to reload the config", len(self.processes))
        for process in self.processes:
            if process.pid is not None:
                os.kill(process.pid, signal.SIGHUP)
