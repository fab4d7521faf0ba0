"""How an API's bodies move: the size limit and timeouts the proxy applies, decided once per snapshot.

The gateway default (gateway.limits.max_body_size, backend timeouts with a total deadline) suits API
calls. An API may set its own `max_body_size`; a policy that carries large transfers (the media policy)
declares `transfer_limits(config)` on its class and replaces both: its own size cap, and an idle timeout
in place of the total deadline, so a 4 GiB upload is bounded by silence, not by its length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.config.model import ApiDefinition, GatewayConfig
from gateway.upstream.base import Timeouts


@dataclass(frozen=True, slots=True)
class TransferLimits:
    """What a policy asks of the proxy; None keeps the API's own setting."""

    max_body_size: int | None = None
    idle_timeout: float | None = None  # set: no total deadline; this many seconds without a byte ends a transfer


@dataclass(frozen=True, slots=True)
class Transfer:
    """The settings the proxy of one API runs with."""

    body_limit: int
    body_timeout: float  # longest client silence mid-body
    timeouts: Timeouts
    # True (a media API): only idle timeouts apply; a whole-body deadline or minimum body rate must not.
    idle_only: bool = False


def transfer_for(api: ApiDefinition, gateway: GatewayConfig) -> Transfer:
    defaults = gateway.upstream
    config = api.config.backend.timeouts or defaults.timeouts
    timeouts = Timeouts(connect=config.connect, read=config.read, total=config.total)
    body_limit = gateway.gateway.limits.max_body_size
    if api.config.max_body_size is not None:
        body_limit = api.config.max_body_size
    body_timeout = gateway.gateway.limits.body_timeout
    idle_only = False
    for spec in api.policies:
        declare = getattr(spec.policy_class, "transfer_limits", None)
        if declare is None:
            continue
        asked: TransferLimits = declare(spec.config)
        if asked.max_body_size is not None:
            body_limit = asked.max_body_size
        if asked.idle_timeout is not None:
            body_timeout = asked.idle_timeout
            timeouts = Timeouts(connect=timeouts.connect, read=asked.idle_timeout, total=math.inf)
            idle_only = True
    return Transfer(body_limit=body_limit, body_timeout=body_timeout, timeouts=timeouts, idle_only=idle_only)
