"""The API lifecycle as a table: state -> {action: next state}.

    CREATED --publish--> PUBLISHED --deprecate--> DEPRECATED --retire--> RETIRED
                              ^                       |
                              +-------publish---------+        (re-publish a deprecated API)
    PUBLISHED, DEPRECATED --block--> BLOCKED --unblock--> the state it was blocked from

Only PUBLISHED and DEPRECATED APIs are served by the gateways and listed in the catalog.
"""

from __future__ import annotations

from gateway.catalog.api_models import ApiStatus, LifecycleAction

S, A = ApiStatus, LifecycleAction

TRANSITIONS: dict[ApiStatus, dict[LifecycleAction, ApiStatus | None]] = {
    S.CREATED: {A.PUBLISH: S.PUBLISHED},
    S.PUBLISHED: {A.DEPRECATE: S.DEPRECATED, A.BLOCK: S.BLOCKED},
    S.DEPRECATED: {A.PUBLISH: S.PUBLISHED, A.RETIRE: S.RETIRED, A.BLOCK: S.BLOCKED},
    S.BLOCKED: {A.UNBLOCK: None},  # None: back to blocked_from
    S.RETIRED: {},
}

SERVED = (S.PUBLISHED, S.DEPRECATED)
DELETABLE = (S.CREATED, S.RETIRED)


def allowed_actions(status: ApiStatus) -> list[str]:
    return [action.value for action in TRANSITIONS[status]]


def next_status(status: ApiStatus, action: LifecycleAction, blocked_from: ApiStatus | None) -> ApiStatus | None:
    """The state after `action`, or None when the action is not allowed from `status`."""
    if action not in TRANSITIONS[status]:
        return None
    target = TRANSITIONS[status][action]
    return target if target is not None else (blocked_from or S.PUBLISHED)
