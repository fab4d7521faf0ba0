"""The throttle policy's problems, with WSO2 API Manager's throttle codes (consumers of today's SPLP rely on them)."""

from __future__ import annotations

from gateway.errors import Problem

THROTTLED_API = Problem(429, 900800, "throttled-out", "Message throttled out")
THROTTLED_BACKEND = Problem(429, 900801, "backend-limit-reached", "API limit reached")
THROTTLED_SUBSCRIPTION = Problem(429, 900802, "subscription-throttled-out", "Message throttled out")
THROTTLED_APPLICATION = Problem(429, 900803, "application-throttled-out", "Message throttled out")
BLOCKED = Problem(403, 900805, "blocked", "Message blocked")
UNAVAILABLE = Problem(503, 800530, "throttling-unavailable", "Throttling counters unavailable")

BY_LEVEL = {
    "subscription": THROTTLED_SUBSCRIPTION,
    "application": THROTTLED_APPLICATION,
    "api": THROTTLED_API,
    "resource": THROTTLED_API,
    "backend": THROTTLED_BACKEND,
    "global": THROTTLED_API,
    "bandwidth": THROTTLED_API,
}
