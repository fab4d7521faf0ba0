"""How an API's bodies move: the size limit and timeouts the proxy applies, decided once per snapshot.

The gateway default (gateway.limits.max_body_size, backend timeouts with a total deadline) suits API
calls, with a request-body pace (idle timeout, whole-body deadline growing with a minimum rate). An API
may set its own `max_body_size`, `body_deadline` and `body_min_rate`; a policy that carries large
transfers (the media policy) declares `transfer_limits(config)` on its class and replaces them: its own
size cap, and an idle timeout in place of the total and whole-body deadlines, so a 4 GiB upload is
bounded by silence, not by its length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.config.model import ApiDefinition, GatewayConfig
from gateway.upstream.base import Timeouts


@dataclass(frozen=True, slots=True)
class BodyPace:
    """How slow a client's request body may be (gateway.limits, or the API's override).

    `idle`: longest silence. `deadline`: seconds from the first read, plus one second per `min_rate`
    bytes received (Apache mod_reqtimeout's body=,MinRate= rule), so a steady upload of any size passes
    and a trickle does not; 0 = no deadline (media APIs rely on `idle` alone)."""

    idle: float = 30.0
    deadline: float = 60.0
    min_rate: int = 1024


@dataclass(frozen=True, slots=True)
class TransferLimits:
    """What a policy asks of the proxy; None keeps the API's own setting."""

    max_body_size: int | None = None
    idle_timeout: float | None = None  # set: no total deadline; this many seconds without a byte ends a transfer


@dataclass(frozen=True, slots=True)
class Transfer:
    """The settings the proxy of one API runs with."""

    body_limit: int
    pace: BodyPace  # how slow the client's body may be
    timeouts: Timeouts
    idle_only: bool = False  # a media API: idle timeouts only, no total or whole-body deadline


def transfer_for(api: ApiDefinition, gateway: GatewayConfig) -> Transfer:
    defaults = gateway.upstream
    config = api.config.backend.timeouts or defaults.timeouts
    timeouts = Timeouts(connect=config.connect, read=config.read, total=config.total)
    body_limit = gateway.gateway.limits.max_body_size
    if api.config.max_body_size is not None:
        body_limit = api.config.max_body_size
    limits = gateway.gateway.limits
    own = api.config
    pace = BodyPace(
        idle=limits.body_timeout,
        deadline=limits.body_deadline if own.body_deadline is None else own.body_deadline,
        min_rate=limits.body_min_rate if own.body_min_rate is None else own.body_min_rate,
    )
    idle_only = False
    for spec in api.policies:
        declare = getattr(spec.policy_class, "transfer_limits", None)
        if declare is None:
            continue
        asked: TransferLimits = declare(spec.config)
        if asked.max_body_size is not None:
            body_limit = asked.max_body_size
        if asked.idle_timeout is not None:
            pace = BodyPace(idle=asked.idle_timeout, deadline=0.0, min_rate=0)
            timeouts = Timeouts(connect=timeouts.connect, read=asked.idle_timeout, total=math.inf)
            idle_only = True
    return Transfer(body_limit=body_limit, pace=pace, timeouts=timeouts, idle_only=idle_only)
