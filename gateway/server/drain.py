"""Drain on SIGTERM: readiness turns unready first, the node keeps serving for `drain_delay`, then the
server's own graceful shutdown runs (stop accepting, in-flight requests finish within graceful_timeout).

A balancer polling /_ready stops sending new requests during the delay, so by the time the listener
closes nothing new is on its way: a rolling restart drops no call. A second SIGTERM stops at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger("splp.server")


class Drain:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.draining = False

    def install(self) -> None:
        """Wraps the server's SIGTERM handler (installed before the app starts) with the delay.
        Only the main thread can own signals: elsewhere (tests serving in a thread) nothing changes."""
        if threading.current_thread() is not threading.main_thread():
            return
        stop = signal.getsignal(signal.SIGTERM)
        if not callable(stop):
            return
        loop = asyncio.get_running_loop()

        def on_term(sig: int, frame: FrameType | None) -> None:
            if self.draining or self.delay <= 0:
                self.draining = True
                stop(sig, frame)
                return
            self.draining = True
            log.info("SIGTERM: /_ready answers 503; serving %.1fs more, then draining", self.delay)
            # A signal handler may run in the middle of the loop's own bookkeeping: only the thread-safe
            # entry point is safe here; the timer is set from the loop itself.
            loop.call_soon_threadsafe(_later, loop, self.delay, stop, sig)

        signal.signal(signal.SIGTERM, on_term)


Handler = Callable[[int, FrameType | None], Any]


def _later(loop: asyncio.AbstractEventLoop, delay: float, stop: Handler, sig: int) -> None:
    loop.call_later(delay, stop, sig, None)
