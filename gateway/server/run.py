"""Serving: uvicorn with uvloop + httptools, one process or N workers sharing one listening socket.

Roles (`splp serve --role`): `gateway` runs the data plane only, `control` the control API only, `all`
(the default) both. One worker: the gateway and the control API run as two uvicorn servers on one
event loop. N workers: a supervisor (uvicorn's Multiprocess) runs the gateway workers and forwards
SIGHUP to them (each reloads its own snapshot, no restart); the control API runs in the supervisor's
child process.
SIGTERM: /_ready answers 503 for `drain_delay` (drain.py), then stop accepting and let in-flight
requests finish for `graceful_timeout`, then exit 0. SIGINT (Ctrl-C): the same without the delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from types import FrameType
from typing import Any, Literal

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess

from gateway.config.load import load_config
from gateway.config.model import LoadedConfig

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
    log_level: str = "info"


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
    alone = options.role == "control"  # then --host/--port name the control listener
    return uvicorn.Config(
        create_control_app(config),
        host=(options.host if alone else None) or listen.host,
        port=options.port if alone and options.port is not None else listen.port,
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
    with_control = options.role == "control" or (options.role == "all" and config.gateway.control.enabled)
    if options.role == "control":
        _run_servers([control_uvicorn_config(config, options)])
        return 0
    workers = options.workers or config.gateway.gateway.workers
    if workers == 1:
        from gateway.app import GatewayApp

        app = GatewayApp(config)
        configs = [gateway_uvicorn_config(config, options, app)]
        if with_control:
            configs.append(control_uvicorn_config(config, options))
        _run_servers(configs)
        return 0
    uv_config = gateway_uvicorn_config(config, options, "gateway.app:create_app")
    control: SpawnProcess | None = None
    if with_control:
        control = _spawn_control(options)
    try:
        socket = uv_config.bind_socket()
        GatewaySupervisor(uv_config, sockets=[socket]).run()
    finally:
        if control is not None and control.is_alive():
            control.terminate()
            control.join(10)
    return 0


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to `_stop_signals` (one handler for every server of the process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _run_servers(configs: list[uvicorn.Config]) -> None:
    import uvloop

    servers: list[uvicorn.Server] = [_Server(config) for config in configs]
    with _stop_signals(servers), asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve_all(servers))


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
