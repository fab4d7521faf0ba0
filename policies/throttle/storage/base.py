"""What the counter storages share: the compiled limit, hit modes, and the verdict layout.

One call checks every limit that applies to a request and, only if all of them allow it, counts it in
each: a request refused at one level consumes nothing at the others (honest accounting). The answer is a
flat list of ints, the same from the Lua script and from memory:
    [refused, retry_ms, remaining_1, reset_ms_1, remaining_2, reset_ms_2, ...]
refused is 0 when every limit allowed the request, else the 1-based index of the first limit that refused;
retry_ms is then the longest wait among the refusing limits (all must free up before a retry can pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

FIXED, SLIDING, MOVING = 1, 2, 3
STRATEGIES = {"fixed-window": FIXED, "sliding-window": SLIDING, "moving-window": MOVING}

HIT, CHECK, ADD = 0, 1, 2
"""HIT: count `cost` if it fits. CHECK: refuse when the quota is already used up, count nothing (a
bandwidth quota, whose cost is known only after the response). ADD: count `cost` without a check."""


@dataclass(frozen=True, slots=True)
class Limit:
    level: str  # subscription, application, api, resource, backend, global, bandwidth
    name: str  # the policy or tier name shown in headers and errors
    amount: int
    window: int  # seconds
    strategy: int = FIXED
    on_error: str = "local"  # local | open | closed, when the shared storage is unreachable
    local_amount: int = 0  # this node's share for the local fallback limiter (0 = same as amount)
    # What never changes in this limit's response headers, built once: the RateLimit-Policy header, the start
    # of the RateLimit value, the X-RateLimit-Limit header. Not part of equality or hash.
    header_parts: tuple[tuple[bytes, bytes], bytes, tuple[bytes, bytes]] = field(init=False, repr=False, compare=False)
    # The Redis script's arguments for this limit (strategy, amount, window_ms) as RESP bulk strings, built once.
    script_args: bytes = field(init=False, repr=False, compare=False)
    window_ms: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        name = self.name.replace('"', "").replace("\\", "")
        parts = (
            (b"ratelimit-policy", f'"{name}";q={self.amount};w={self.window}'.encode()),
            f'"{name}";r='.encode(),
            (b"x-ratelimit-limit", b"%d" % self.amount),
        )
        object.__setattr__(self, "header_parts", parts)
        object.__setattr__(self, "window_ms", self.window * 1000)
        args = b"".join(bulk(b"%d" % n) for n in (self.strategy, self.amount, self.window_ms))
        object.__setattr__(self, "script_args", args)


def bulk(value: bytes) -> bytes:
    """A RESP bulk string."""
    return b"$%d\r\n%s\r\n" % (len(value), value)


Hit = tuple[str, Limit, int, int]  # (key, limit, cost, mode)
Hits = Sequence[Hit]


class StoreUnavailable(Exception):
    """The shared counter storage cannot be reached; the policy applies each limit's on_error choice."""
