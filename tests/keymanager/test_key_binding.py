"""A key's published algorithm binds it (RFC 7517 4.2-4.4, RFC 8725 3.1): tokens minted by joserfc, an
independent JOSE library, against a real JWKS server on loopback whose keys carry alg / use / key_ops."""

from __future__ import annotations

from typing import Any

import pytest

from keymanager.errors import InvalidToken
from tests.keymanager.servers import JwksServer, claims, mint, new_rsa
from tests.keymanager.test_jwks import manager

ALLOWED = ("RS256", "PS256", "ES256")


async def verdict(published: dict[str, Any], alg: str) -> str:
    """'ok' or the refusal's description, for a token signed with `alg` by a key published with `published`."""
    key = new_rsa("k1")
    server = JwksServer(key, new_rsa("k2"))  # k2 keeps the JWKS usable when k1 is skipped
    server.published["k1"] = published
    async with manager(server, algorithms=ALLOWED) as km:
        try:
            await km.authenticate(mint(key, claims(), alg=alg))
        except InvalidToken as exc:
            return exc.description
    return "ok"


@pytest.mark.parametrize(
    ("published", "alg", "expected"),
    [
        ({"alg": "RS256"}, "RS256", "ok"),
        ({"alg": "RS256"}, "PS256", "published for RS256, not PS256"),  # same RSA key, other padding
        ({"alg": "PS256"}, "PS256", "ok"),
        ({"alg": "PS256"}, "RS256", "published for PS256, not RS256"),
        ({}, "PS256", "ok"),  # no alg published: the key manager's allow-list decides
        ({}, "RS256", "ok"),
        ({"use": "sig", "key_ops": ["verify"]}, "RS256", "ok"),
        ({"use": "enc"}, "RS256", "no key 'k1'"),  # an encryption key never verifies
        ({"key_ops": ["sign"]}, "RS256", "no key 'k1'"),  # verify not among its operations
        ({"key_ops": "verify"}, "RS256", "no key 'k1'"),  # not a list: refused, not guessed
        ({"alg": "RSA-OAEP"}, "RS256", "no key 'k1'"),  # published for encryption
        ({"alg": "ES256"}, "RS256", "no key 'k1'"),  # an alg the key cannot do: the entry is broken
    ],
)
async def test_published_alg_use_and_key_ops_bind_the_key(published: dict[str, Any], alg: str, expected: str) -> None:
    result = await verdict(published, alg)
    assert expected in result, result


async def test_algorithm_outside_the_allow_list_is_refused_even_when_the_key_names_it() -> None:
    key = new_rsa("k1")
    server = JwksServer(key)
    server.published["k1"] = {"alg": "PS256"}
    async with manager(server, algorithms=("RS256",)) as km:
        with pytest.raises(InvalidToken, match="PS256 is not accepted"):
            await km.authenticate(mint(key, claims(), alg="PS256"))
