"""Upstream failures, named by what the proxy may do next.

The proxy maps them to answers (502/503/504) and decides about failover and retries:
- UpstreamConnectError: nothing was sent; any method may fail over to the next endpoint.
- UpstreamTimeout: `phase` says where ("connect", "read", "total"); "connect" is as safe as a connect error.
- UpstreamProtocolError: the backend answered with bytes we refuse to pass on (bad framing) -> 502.
- UpstreamBodyError: the response body broke off after the response started -> the client connection
  must end uncleanly.
- ClientBodyAborted: the client's request body ended abnormally; raised by the body iterator handed to
  the client, which must reset the upstream connection (never finish the request cleanly) and re-raise.
"""

from __future__ import annotations

from gateway.errors import Problem


class UpstreamError(Exception):
    """Base class: `cause` is a short human-readable reason that may reach the consumer."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class UpstreamConnectError(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    def __init__(self, cause: str, phase: str) -> None:
        super().__init__(cause)
        self.phase = phase


class UpstreamProtocolError(UpstreamError):
    pass


class UpstreamBodyError(UpstreamError):
    pass


class ClientBodyAborted(Exception):
    """The downstream client's body was cut off or malformed; the upstream request must be aborted."""


class ClientBodyTimeout(ClientBodyAborted):
    """The client went silent mid-body for longer than gateway.limits.body_timeout (answered 408)."""


class ClientBodyRejected(ClientBodyAborted):
    """The request body broke a rule while it streamed (too large, digest mismatch, wrong content): the
    upstream request is reset before its last bytes and the client is answered with `problem`."""

    def __init__(self, problem: Problem, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem
        self.detail = detail
