"""The introspection key manager checks the audience of active tokens like the JWT key manager does, against
a real RFC 7662 server on loopback; refusals are remembered for negative_ttl."""

from __future__ import annotations

import time

import pytest

from gateway.config.keymanagers import IntrospectionConfig
from keymanager.errors import InvalidToken, TokenInactive
from keymanager.introspection import IntrospectionKeyManager
from tests.keymanager.servers import IntrospectionServer
from tests.servers import serve


def active(**extra: object) -> dict[str, object]:
    return {"active": True, "client_id": "kc-app", "scope": "read", "exp": int(time.time()) + 60, **extra}


async def test_audience_of_active_tokens_is_checked_and_refusals_remembered() -> None:
    server = IntrospectionServer()
    server.tokens.update(
        {
            "for-us": active(aud="splp"),
            "for-us-and-others": active(aud=["other", "splp"]),
            "for-others": active(aud="other"),
            "no-aud": active(),
        }
    )
    async with serve(server) as port:
        config = IntrospectionConfig(
            type="introspection",
            name="kc-opaque",
            url=f"http://127.0.0.1:{port}/introspect",
            client_id="gw",
            client_secret="gw-secret",
            audience=("splp",),
            negative_ttl=60,
        )
        km = IntrospectionKeyManager(config)
        try:
            assert (await km.authenticate("for-us")).application == "kc-app"
            assert (await km.authenticate("for-us-and-others")).application == "kc-app"
            for token in ("for-others", "no-aud"):
                for _ in range(2):
                    with pytest.raises(InvalidToken, match="not meant for this audience"):
                        await km.authenticate(token)
            assert server.calls == 4  # each refusal asked once, then remembered
            with pytest.raises(TokenInactive):
                await km.authenticate("unknown")
        finally:
            await km.aclose()
