"""Line outputs for the access log and the JSON-lines analytics sink: stdout/stderr or a size-rotated file.

Writes run in a worker thread (the flush task awaits them), never on the event loop. A file is rotated by
the standard library's RotatingFileHandler (access.log -> access.log.1 ... .N), one batch per record.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import sys
from pathlib import Path


class LineWriter:
    def __init__(self, output: str, max_bytes: int = 0, backups: int = 0) -> None:
        self.output = output
        self._handler: logging.handlers.RotatingFileHandler | None = None
        if output not in ("stdout", "stderr"):
            Path(output).parent.mkdir(parents=True, exist_ok=True)
            self._handler = logging.handlers.RotatingFileHandler(
                output, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
            )
            self._handler.setFormatter(logging.Formatter("%(message)s"))

    def _write(self, text: str) -> None:
        if self._handler is not None:
            self._handler.handle(logging.makeLogRecord({"msg": text, "levelno": logging.INFO}))
            return
        stream = sys.stdout if self.output == "stdout" else sys.stderr
        stream.write(text + "\n")
        stream.flush()

    async def write_lines(self, lines: list[str]) -> None:
        if lines:
            await asyncio.to_thread(self._write, "\n".join(lines))

    def close(self) -> None:
        if self._handler is not None:
            self._handler.close()
