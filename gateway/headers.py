"""Header hygiene for a forwarding proxy (RFC 9110 7.6.1): hop-by-hop headers never cross."""

from __future__ import annotations

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"proxy-connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)


def connection_listed(value: bytes) -> set[bytes]:
    """Names listed in a Connection header value: those headers are hop-by-hop too."""
    return {token.strip().lower() for token in value.split(b",") if token.strip()}


# W3C trace context: replaced by the gateway's own when tracing is on (gateway/observability/tracing.py)
TRACE_HEADERS = frozenset({b"traceparent", b"tracestate"})
