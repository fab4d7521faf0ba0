"""Operator log lines: one format for the gateway, the control API and the ETL engine.

Every `splp.*` and `uvicorn.*` logger propagates to the root logger, which gets one QueueHandler: the
event loop only enqueues a record; a QueueListener thread formats and writes it, so a slow terminal or
disk never stalls requests. A line carries time (UTC, ms), level, logger, message, the request id when
there is one, and the structured fields passed as `extra={"fields": {...}}`.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
import time
from typing import Any

import orjson

from gateway.config.observability import LogSettings

_LISTENER: logging.handlers.QueueListener | None = None
_REGISTERED: list[bool] = []


_STAMP_CACHE: list[Any] = [-1, ""]  # the last second formatted: a flush formats thousands of stamps per second


def utc_stamp(seconds: float) -> str:
    """RFC 3339 UTC with milliseconds: 2026-12-07T13:55:00.123Z."""
    whole = int(seconds)
    if whole != _STAMP_CACHE[0]:
        _STAMP_CACHE[0], _STAMP_CACHE[1] = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{_STAMP_CACHE[1]}.{int((seconds - whole) * 1000):03d}Z"


def escape(text: str) -> str:
    """Quotes, backslashes and control characters as \\xHH (as nginx does), so no value can end a line or
    a quoted field it is written into."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return text
    return "".join(f"\\x{ord(ch):02X}" if ch in '"\\' or not ch.isprintable() else ch for ch in text)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, dict) else {}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": utc_stamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        line.update(_fields(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [utc_stamp(record.created), record.levelname, record.name, escape(record.getMessage())]
        request_id = getattr(record, "request_id", None)
        if request_id:
            parts.append(f"request_id={escape(str(request_id))}")
        parts.extend(f'{key}="{escape(str(value))}"' for key, value in _fields(record).items())
        text = " ".join(parts)
        if record.exc_info:
            text += " exception=" + escape(self.formatException(record.exc_info))
        return text


def formatter_for(settings: LogSettings) -> logging.Formatter:
    return JsonFormatter() if settings.format == "json" else TextFormatter()


def configure_logging(settings: LogSettings, *, level: str | None = None, stream: Any = None) -> None:
    """Installs the one format on the root logger (idempotent: a second call replaces the first)."""
    global _LISTENER
    stop_logging()
    target = logging.StreamHandler(stream or sys.stderr)
    target.setFormatter(formatter_for(settings))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    root = logging.getLogger()
    root.handlers = [logging.handlers.QueueHandler(records)]
    root.setLevel((level or settings.level).upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    _LISTENER = logging.handlers.QueueListener(records, target, respect_handler_level=False)
    _LISTENER.start()
    if not _REGISTERED:
        atexit.register(stop_logging)  # what is still queued is written at exit
        _REGISTERED.append(True)


def stop_logging() -> None:
    """Writes what is queued and stops the writer thread (at exit, or before reconfiguring)."""
    global _LISTENER
    if _LISTENER is not None:
        _LISTENER.stop()
        _LISTENER = None


class Sampler:
    """At most `per_second` passes per wall-clock second: sampled operator lines for refusal floods."""

    __slots__ = ("_per_second", "_second", "_used", "skipped")

    def __init__(self, per_second: int) -> None:
        self._per_second = per_second
        self._second = 0
        self._used = 0
        self.skipped = 0

    def allow(self, now: float) -> bool:
        second = int(now)
        if second != self._second:
            self._second, self._used = second, 0
        if self._used < self._per_second:
            self._used += 1
            return True
        self.skipped += 1
        return False
