"""Access-log lines from analytics events: JSON lines (orjson) or nginx `combined`-like text.

JSON escapes every control character and quote by construction. The text format passes every value a
client chose (path, user agent, referer) through `escape`, so a newline or quote in a request can never
end the line or a quoted field and forge another entry.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from gateway.observability.logs import escape


def json_line(event: dict[str, Any]) -> str:
    line = {
        "time": event["requestTimestamp"],
        "request_id": event["correlationId"],
        "client": event["userIp"],
        "method": event["apiMethod"],
        "path": event["path"],
        "status": event["proxyResponseCode"],
        "bytes": event["responseSize"],
        "latency_ms": event["responseLatency"],
        "api": event.get("apiContext", ""),
        "application": event.get("applicationId", ""),
        "user_agent": event["userAgentHeader"],
        "referer": event["referer"],
    }
    return orjson.dumps(line).decode()


def combined_line(event: dict[str, Any], wall: float, http_version: str) -> str:
    """`client - user [07/Dec/2026:13:55:00 +0000] "GET /path HTTP/1.1" 200 123 "referer" "agent" rid=... rt=0.004`"""
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(wall))
    user = escape(str(event.get("userName") or "-"))
    request = escape(f"{event['apiMethod']} {event['path']} HTTP/{http_version}")
    return (
        f'{event["userIp"] or "-"} - {user} [{stamp}] "{request}" {event["proxyResponseCode"]} '
        f'{event["responseSize"]} "{escape(event["referer"]) or "-"}" "{escape(event["userAgentHeader"]) or "-"}" '
        f"rid={escape(event['correlationId'])} rt={event['responseLatency'] / 1000:.4f}"
    )
