"""Analytics sinks: where events go besides metrics and the access log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from gateway.config.observability import JsonLinesSink, StoreSink
from gateway.observability.writers import LineWriter


class Sink(Protocol):
    name: str

    async def write(self, events: list[dict[str, Any]]) -> None: ...

    async def aclose(self) -> None: ...


class JsonLinesEvents:
    """One JSON object per line (orjson), for Promtail/Loki or any log shipper."""

    def __init__(self, config: JsonLinesSink) -> None:
        self.name = f"jsonl:{config.output}"
        self._writer = LineWriter(config.output, config.max_bytes, config.backups)

    async def write(self, events: list[dict[str, Any]]) -> None:
        await self._writer.write_lines([orjson.dumps(event, default=str).decode() for event in events])

    async def aclose(self) -> None:
        self._writer.close()


def sinks_from_config(configs: Sequence[JsonLinesSink | StoreSink]) -> list[Sink]:
    """The sinks that need no connection (built with the app); store sinks open at startup."""
    return [JsonLinesEvents(config) for config in configs if isinstance(config, JsonLinesSink)]


async def open_sinks(configs: Sequence[JsonLinesSink | StoreSink], catalog_uri: str) -> list[Sink]:
    from gateway.observability.store import StoreEvents

    opened: list[Sink] = []
    for config in configs:
        if isinstance(config, StoreSink):
            sink = StoreEvents(config.uri or catalog_uri, config.retention)
            await sink.open()
            opened.append(sink)
    return opened
