"""Serving: uvicorn with uvloop + httptools, one process or N workers sharing one listening socket.

With the control API, one ETL worker process (`splp etl worker`) runs beside them; ETL runs never execute
in the gateway's or the control API's process.
One worker: the gateway and the control API run as two uvicorn servers on one event loop.
N workers: a supervisor (uvicorn's Multiprocess) runs the gateway workers and forwards SIGHUP to them
(each reloads its own snapshot, no restart); the control API runs in the supervisor's child process.
SIGTERM/SIGINT: stop accepting, let in-flight requests finish for `graceful_timeout`, then exit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess

from gateway.config.load import load_config
from gateway.config.model import LoadedConfig

log = logging.getLogger("splp.server")


@dataclass(frozen=True, slots=True)
class ServeOptions:
    config_path: str
    workers: int | None = None
    host: str | None = None
    port: int | None = None
    log_level: str = "info"
    etl_worker: bool = True  # with the control API, one `splp etl worker` process beside (ARCHITECTURE.md)


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


def gateway_uvicorn_config(config: LoadedConfig, options: ServeOptions, app: Any) -> uvicorn.Config:
    section = config.gateway.gateway
    in_workers = isinstance(app, str)
    return uvicorn.Config(
        app,
        factory=in_workers,
        host=options.host or section.listen.host,
        port=options.port if options.port is not None else section.listen.port,
        loop="uvloop",
        http="gateway.server.run:WorkerProtocol" if in_workers else http_protocol(config),
        ws="none",
        lifespan="on",
        workers=options.workers or section.workers,
        timeout_keep_alive=int(section.limits.keepalive_timeout) or 1,
        timeout_graceful_shutdown=int(section.limits.graceful_timeout),
        access_log=False,
        proxy_headers=False,  # the client address is the socket peer; X-Forwarded-For is appended, not trusted
        server_header=False,
        date_header=False,  # the backend's Date passes through; the gateway dates its own answers
        log_level=options.log_level,
        backlog=4096,
    )


def control_uvicorn_config(config: LoadedConfig, options: ServeOptions) -> uvicorn.Config:
    from gateway.control.app import create_control_app

    listen = config.gateway.control.listen
    return uvicorn.Config(
        create_control_app(config),
        host=listen.host,
        port=listen.port,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="on",
        access_log=False,
        server_header=False,
        log_level=options.log_level,
    )


class BindError(Exception):
    """A listener's address cannot be bound (in use, not local, no permission)."""


def listen_socket(config: uvicorn.Config, key: str) -> socket.socket:
    """Binds `config`'s address now, so a taken port stops `splp serve` before anything starts, with the
    config key to change instead of a server left running without its listener."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror.lower() if exc.strerror else str(exc)
        raise BindError(f"cannot listen on {config.host}:{config.port} ({key}): {reason}") from None
    sock.set_inheritable(True)
    return sock


def serve(options: ServeOptions) -> int:
    """Exit status: 0 after a signal, 1 when a listener cannot be bound, 3 when startup fails."""
    config = load_config(options.config_path)  # fails before any port is bound
    os.environ["SPLP_CONFIG"] = os.path.abspath(config.path)
    etl = _start_etl_worker(config) if options.etl_worker and config.gateway.control.enabled else None
    try:
        return _serve(config, options)
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


def _serve(config: LoadedConfig, options: ServeOptions) -> int:
    workers = options.workers or config.gateway.gateway.workers
    in_workers = workers > 1
    if in_workers:
        app: Any = "gateway.app:create_app"
    else:
        from gateway.app import GatewayApp

        app = GatewayApp(config)
    uv_config = gateway_uvicorn_config(config, options, app)
    control_config = control_uvicorn_config(config, options) if config.gateway.control.enabled else None
    sockets: list[socket.socket] = []
    try:
        sockets.append(listen_socket(uv_config, "gateway.listen"))
        if control_config is not None:
            sockets.append(listen_socket(control_config, "control.listen"))
    except BindError as exc:
        log.error("%s", exc)
        for sock in sockets:
            sock.close()
        return 1
    if not in_workers:
        servers = [uvicorn.Server(uv_config)]
        if control_config is not None:
            servers.append(uvicorn.Server(control_config))
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_serve_all(servers, sockets))
        return 0
    control: SpawnProcess | None = None
    if control_config is not None:
        control = _spawn_control(options, sockets[1])
    supervisor = GatewaySupervisor(uv_config, sockets=sockets[:1], control=control)
    try:
        supervisor.run()
    finally:
        if control is not None and control.is_alive():
            control.terminate()
            control.join(10)
    return supervisor.exit_code


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
    uvicorn.Server(control_uvicorn_config(config, options)).run(sockets=[sock])


def _spawn_control(options: ServeOptions, sock: socket.socket) -> SpawnProcess:
    import multiprocessing

    process = multiprocessing.get_context("spawn").Process(
        target=_control_main, args=(options, sock), name="splp-control"
    )
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
