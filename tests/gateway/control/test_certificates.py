"""An application's client certificates and JWE key through the control API, and on to the gateways' view."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.catalog.export import consumer_configs
from tests.gateway.control.conftest import Control
from tests.gateway.control.consumers import catalog, new_app


def _public_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


async def test_register_certificates_and_jwe_key(control: Control, store_uri: str) -> None:
    app = await new_app(control, "a_dev")
    path = f"/applications/{app['id']}/certificates"
    status, empty = await control.call("GET", path, as_user="a_aud")
    assert status == 200 and empty == {"cert_fingerprints": [], "cert_subjects": [], "jwe_public_key": None}

    pem = _public_pem(ec.generate_private_key(ec.SECP256R1()))
    body = {"cert_fingerprints": ["AB:" * 31 + "CD"], "cert_subjects": ["CN=simpeg,O=Kominfo"], "jwe_public_key": pem}
    status, stored = await control.call("PUT", path, as_user="a_dev", json=body)
    assert status == 200, stored
    assert stored["cert_fingerprints"] == ["ab" * 31 + "cd"] and stored["cert_subjects"] == ["CN=simpeg,O=Kominfo"]

    for bad in (
        {"cert_fingerprints": ["123"]},
        {"cert_subjects": ["not a dn"]},
        {"jwe_public_key": "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----\n"},
        {"jwe_public_key": _public_pem(rsa.generate_private_key(65537, 1024))},
    ):
        status, problem = await control.call("PUT", path, as_user="a_dev", json=bad)
        assert status == 422, (bad, problem)
    status, _ = await control.call("PUT", path, as_user="a_aud", json=body)  # auditors read only
    assert status == 403
    status, _ = await control.call("GET", path, as_user="b_admin")  # another tenant: not even visible
    assert status == 404

    async with catalog(store_uri) as store:
        applications, _ = await consumer_configs(store)
    exported = next(a for a in applications if a.id == app["id"])
    assert exported.cert_fingerprints == ("ab" * 31 + "cd",) and exported.jwe_public_key == pem
    status, trail = await control.call("GET", f"/audit?object_type=application&object_id={app['id']}", as_user="a_aud")
    assert trail["items"][0]["action"] == "application.certificates"
