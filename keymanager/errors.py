"""Why a credential was refused: one small class per reason, each carrying its WSO2 code and HTTP status.

The auth policy renders them (401 + WWW-Authenticate, 403, 503); the key managers only raise them.
`error` is the RFC 6750 error code: None where RFC 6750 wants none (no credentials, or another scheme
than Bearer: section 3.1) and for the 403s that are not about scopes (`insufficient_scope` means the
token lacks a scope and nothing else).
"""

from __future__ import annotations


class AuthFailure(Exception):
    """A client fault: the credential does not authenticate. `description` is safe to show the caller."""

    status = 401
    code = 900901  # WSO2: Invalid Credentials
    error: str | None = "invalid_token"  # RFC 6750 error
    title = "Invalid Credentials"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class InvalidToken(AuthFailure):
    pass


class MissingCredentials(AuthFailure):
    """No credentials, or credentials in a scheme this API does not use (Basic): a bare challenge."""

    code = 900902
    error: str | None = None
    title = "Missing Credentials"


class TokenExpired(AuthFailure):
    code = 900903
    title = "Access Token Expired"


class TokenInactive(AuthFailure):
    """Revoked, or reported inactive by an introspection server."""

    code = 900904
    title = "Access Token Inactive"


class Forbidden(AuthFailure):
    """The token is good but may not be used here (another key manager's application, another tenant)."""

    status = 403
    code = 900908  # WSO2: Resource forbidden
    error: str | None = None
    title = "Resource forbidden"


class NotSubscribed(Forbidden):
    code = 900908  # WSO2 answers a missing subscription with Resource forbidden
    title = "Not subscribed"


class SubscriptionBlocked(Forbidden):
    code = 900907  # WSO2: The requested API is temporarily blocked (a blocked subscription)
    title = "Subscription blocked"


class Blocked(Forbidden):
    """The application or the end user is blocked."""

    code = 900909  # WSO2: The subscription to the API is inactive (the API user is blocked)
    title = "Blocked"


class ScopeNotAllowed(Forbidden):
    code = 900910
    error = "insufficient_scope"
    title = "Scope not allowed"

    def __init__(self, description: str, needed: frozenset[str] = frozenset()) -> None:
        super().__init__(description)
        self.needed = needed  # the challenge's scope attribute (RFC 6750 3)


class KeyManagerUnavailable(AuthFailure):
    """The key manager could not decide (JWKS or introspection server unreachable, no cached answer)."""

    status = 503
    code = 900900
    error = "temporarily_unavailable"
    title = "Key manager unavailable"
