"""Active backend health checks (optional, per API: `backend.active_health`): every endpoint of such an
API is probed with GET <path> on a timer. A probe that fails (no answer in `timeout`, or a 5xx) suspends
the endpoint in the shared EndpointHealth (the same state passive health uses) until a probe passes, and
logs endpoint_suspended / endpoint_recovered with `check: active`. Each result is also handed to
`report` (the analytics pipeline), so the control API's backend health shows probes beside real calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from gateway.config.model import ActiveHealth
from gateway.upstream.pool import HealthRegistry

log = logging.getLogger("splp.upstream")


class ActiveChecks:
    def __init__(self, registry: HealthRegistry) -> None:
        self._registry = registry
        self._targets: dict[str, tuple[str, str, ActiveHealth]] = {}  # endpoint URL -> (API prefix, url, config)
        self._due: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self.report: Callable[[dict[str, Any]], None] | None = None

    def watch(self, targets: list[tuple[str, str, ActiveHealth]]) -> None:
        """The endpoints of the current snapshot's APIs that ask for probes (replaces the previous set)."""
        self._targets = {url: (api, url, config) for api, url, config in targets}

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="splp-active-health")

    async def _run(self) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                now = time.monotonic()
                due = [t for url, t in self._targets.items() if self._due.get(url, 0.0) <= now]
                for _, url, config in due:
                    self._due[url] = now + config.interval
                if due:
                    await asyncio.gather(*(self._probe(session, *target) for target in due))
                await asyncio.sleep(0.5)

    async def _probe(self, session: aiohttp.ClientSession, api: str, url: str, config: ActiveHealth) -> None:
        started = time.perf_counter()
        cause = ""
        status = 0
        try:
            timeout = aiohttp.ClientTimeout(total=config.timeout)
            async with session.get(url.rstrip("/") + config.path, timeout=timeout, allow_redirects=False) as response:
                status = response.status
                if status >= 500:
                    cause = f"status {status}"
        except TimeoutError:
            cause = "timeout"
        except aiohttp.ClientConnectorError as exc:
            cause = "refused" if isinstance(exc.os_error, ConnectionRefusedError) else "unreachable"
        except aiohttp.ClientError as exc:
            cause = type(exc).__name__
        self._apply(url, cause, config)
        if self.report is not None:
            self.report(
                {"api": api, "url": url, "status": status, "cause": cause, "ms": (time.perf_counter() - started) * 1e3}
            )

    def _apply(self, url: str, cause: str, config: ActiveHealth) -> None:
        state = self._registry.get(url)
        fields = {"endpoint": url, "check": "active"}
        if cause:
            state.last_failure, state.last_failure_at = cause, time.time()
            state.suspended_until = time.monotonic() + config.interval + config.timeout
            if not state.suspended:
                state.suspended = True
                log.warning("endpoint suspended by probe: %s (%s)", url, cause,
                            extra={"fields": {**fields, "event": "endpoint_suspended", "cause": cause}})  # fmt: skip
        elif state.suspended:
            state.suspended, state.suspended_until, state.failures = False, 0.0, 0
            log.warning("endpoint recovered: %s", url, extra={"fields": {**fields, "event": "endpoint_recovered"}})

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
