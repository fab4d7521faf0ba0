"""Why a credential was refused: one small class per reason, each carrying its WSO2 code and HTTP status.

The auth policy renders them (401 + WWW-Authenticate, 403, 503); the key managers only raise them.
"""

from __future__ import annotations


class AuthFailure(Exception):
    """A client fault: the credential does not authenticate. `description` is safe to show the caller."""

    status = 401
    code = 900901  # WSO2: Invalid Credentials
    error = "invalid_token"  # RFC 6750 error
    title = "Invalid Credentials"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class InvalidToken(AuthFailure):
    pass


class CertificateMismatch(AuthFailure):
    """RFC 8705: the token is bound (cnf.x5t#S256) to a client certificate this connection did not present."""

    code = 800506
    title = "Token bound to another certificate"


class MissingCredentials(AuthFailure):
    code = 900902
    error = "invalid_request"
    title = "Missing Credentials"


class TokenExpired(AuthFailure):
    code = 900903
    title = "Access Token Expired"


class TokenInactive(AuthFailure):
    """Revoked, or reported inactive by an introspection server."""

    code = 900904
    title = "Access Token Inactive"


class Forbidden(AuthFailure):
    status = 403
    code = 900908
    error = "insufficient_scope"
    title = "Resource forbidden"


class NotSubscribed(Forbidden):
    title = "Not subscribed"


class SubscriptionBlocked(Forbidden):
    code = 900909
    title = "Subscription inactive"


class ScopeNotAllowed(Forbidden):
    code = 900910
    title = "Scope not allowed"


class KeyManagerUnavailable(AuthFailure):
    """The key manager could not decide (JWKS or introspection server unreachable, no cached answer)."""

    status = 503
    code = 900900
    error = "temporarily_unavailable"
    title = "Key manager unavailable"
