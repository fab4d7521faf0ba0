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
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from typing import Any

import uvicorn
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


def serve(options: ServeOptions) -> int:
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
    if workers == 1:
        from gateway.app import GatewayApp

        app = GatewayApp(config)
        servers = [uvicorn.Server(gateway_uvicorn_config(config, options, app))]
        if config.gateway.control.enabled:
            servers.append(uvicorn.Server(control_uvicorn_config(config, options)))
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_serve_all(servers))
        return 0
    uv_config = gateway_uvicorn_config(config, options, "gateway.app:create_app")
    control: SpawnProcess | None = None
    if config.gateway.control.enabled:
        control = _spawn_control(options)
    try:
        socket = uv_config.bind_socket()
        GatewaySupervisor(uv_config, sockets=[socket]).run()
    finally:
        if control is not None and control.is_alive():
            control.terminate()
            control.join(10)
    return 0


async def _serve_all(servers: list[uvicorn.Server]) -> None:
    """Runs servers together; when one stops (signal or failure) the others are told to stop too."""
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()


def _control_main(options: ServeOptions) -> None:
    config = load_config(options.config_path)
    uvicorn.Server(control_uvicorn_config(config, options)).run()


def _spawn_control(options: ServeOptions) -> SpawnProcess:
    import multiprocessing

    process = multiprocessing.get_context("spawn").Process(target=_control_main, args=(options,), name="splp-control")
    process.start()
    return process


class GatewaySupervisor(Multiprocess):
    """uvicorn's supervisor, except SIGHUP: workers reload their snapshot in place instead of restarting."""

    def handle_hup(self) -> None:
        log.info("SIGHUP: asking %d workers to reload the config", len(self.processes))
        for process in self.processes:
            if process.pid is not None:
                os.kill(process.pid, signal.SIGHUP)
