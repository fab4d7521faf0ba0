"""POST /api/v1/auth/token: username + password -> a short-lived Bearer token (tokens.py).

Any failure (unknown user, wrong password, inactive user or tenant) gives the same 401, after the
same scrypt work, so the answer reveals nothing about which usernames exist. Repeated failures per
username or client address answer 429 for a while (signin_guard.py). Every failure, with its real
reason, the user name as typed and the client address, goes to the audit log (`object_type=signin`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gateway.catalog.accounts import SignInFailure, authenticate, record_failed_signin
from gateway.control import errors
from gateway.control.endpoints import Call, Endpoint
from gateway.control.errors import ApiError


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64, description="Login name.")
    password: str = Field(min_length=1, max_length=1024, description="Password.")


class TokenResponse(BaseModel):
    access_token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    token_type: str = Field("Bearer", description="Always Bearer.")
    expires_in: int = Field(description="Seconds until the token expires.")


async def issue_token(call: Call) -> TokenResponse:
    body: TokenRequest = call.body
    services = call.services
    address = call.request.client.host if call.request.client else "-"
    try:
        await services.signin_guard.check(body.username, address)
    except ApiError:
        await record_failed_signin(services.store, body.username, address, SignInFailure("locked", None))
        raise
    credentials = await authenticate(services.store, body.username, body.password, services.hasher)
    if isinstance(credentials, SignInFailure):
        await services.signin_guard.failed(body.username, address)
        await record_failed_signin(services.store, body.username, address, credentials)
        raise ApiError(errors.INVALID_CREDENTIALS, "unknown user, wrong password, or the account is inactive")
    user = credentials.user
    await services.visitors.seen(services.store, user.id)
    token = await services.issuer.issue(
        user_id=user.id, tenant_id=user.tenant_id, role=user.role.value, session_version=credentials.session_version
    )
    return TokenResponse(access_token=token, expires_in=services.issuer.expires_in)


ENDPOINTS = (
    Endpoint(
        "POST",
        "/api/v1/auth/token",
        issue_token,
        "Sign in: a short-lived access token for the control API",
        "auth",
        public=True,
        body=TokenRequest,
        description="Ten failed sign-ins for one username (fifty for one client address) within 15 minutes "
        "answer 429 with Retry-After until the window frees a slot.",
        response=TokenResponse,
    ),
)
