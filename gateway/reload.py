"""Live reload: SIGHUP or a changed config file builds a new snapshot and swaps it in.

A config that fails validation or cannot be built is logged with its location and the old snapshot
keeps serving: nothing half-loads. File checks run off the event loop once per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.config.errors import ConfigError
from gateway.config.load import load_config
from gateway.config.restart import restart_only_changes

if TYPE_CHECKING:
    from gateway.app import GatewayApp

log = logging.getLogger("splp.reload")


def _signature(main: str, patterns: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    files = [main]
    base = Path(main).parent
    for pattern in patterns:
        files.extend(sorted(glob.glob(str(base / pattern))))
    out = []
    for file in files:
        try:
            stat = os.stat(file)
            out.append((file, stat.st_mtime_ns, stat.st_size))
        except OSError:
            out.append((file, -1, -1))
    return tuple(out)


class Reloader:
    def __init__(self, app: GatewayApp, interval: float = 1.0) -> None:
        self._app = app
        self._started = app.files.gateway  # what the sockets, workers and pools were made from
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._pending: asyncio.Task[bool] | None = None
        self._signal_installed = False

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        # Not the main thread (ValueError), or a loop without signal support: then only the file watcher
        # reloads; SIGHUP is an operator convenience, never a requirement.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, self.request)
            self._signal_installed = True
        if self._app.config.gateway.gateway.watch_config:
            self._task = asyncio.create_task(self._watch(), name="splp-config-watch")

    async def stop(self) -> None:
        if self._signal_installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def request(self) -> None:
        """Schedules one reload (SIGHUP handler); several signals in a row coalesce."""
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self.reload(), name="splp-reload")

    async def reload(self) -> bool:
        """Loads the config again and swaps the snapshot; True on success."""
        async with self._lock:
            app = self._app
            try:
                files = await asyncio.to_thread(load_config, app.config.path)
                snapshot = app.rebuild(files=files)
            except ConfigError as exc:
                log.error("config reload refused, still serving snapshot %d:\n%s", app.holder.current.version, exc)
                return False
            except Exception:
                log.exception("config reload failed, still serving snapshot %d", app.holder.current.version)
                return False
            log.info("config reloaded: snapshot %d, %d APIs", snapshot.version, len(snapshot.apis))
            waiting = restart_only_changes(self._started, files.gateway)
            if waiting:
                log.warning("config changes that need a restart (still running the old values): %s", ", ".join(waiting))
            return True

    async def _watch(self) -> None:
        config = self._app.config
        last = await asyncio.to_thread(_signature, config.path, config.gateway.include)
        while True:
            await asyncio.sleep(self._interval)
            config = self._app.config
            current = await asyncio.to_thread(_signature, config.path, config.gateway.include)
            if current != last:
                last = current
                await self.reload()
