"""Client SSL contexts for https backends, built once per snapshot (never per request).

Hostname verification is on unless the API turns it off. Pinning loads only the pinned certificates as
the trust store with X509_V_FLAG_PARTIAL_CHAIN, so OpenSSL accepts the handshake only when the backend's
chain contains one of them: checked during the handshake, before a request byte is sent. A client key
given sealed (gateway.sealing) is opened with the master key in memory and handed to OpenSSL through a
temporary file removed at once (the ssl module loads keys from files only), encrypted there under a
one-time password: the key never touches the disk in clear.
"""

from __future__ import annotations

import os
import secrets
import ssl
import tempfile

from cryptography.hazmat.primitives import serialization

from gateway.config.tls import DEFAULT_MASTER_KEY_FILE, BackendTls
from gateway.sealing import SEALED_PREFIX, MasterKey


def backend_owner(api_prefix: str) -> str:
    """The `owner` a backend client key of this API is sealed for (`splp certs seal --owner ...`)."""
    return f"backend:{api_prefix}"


def backend_context(tls: BackendTls, owner: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=None if tls.pinned_certs else tls.ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.pinned_certs:
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        for path in tls.pinned_certs:
            context.load_verify_locations(cafile=path)
    context.check_hostname = tls.verify_hostname
    if tls.cert is not None and tls.key is not None:
        if tls.key.startswith(SEALED_PREFIX):
            _load_sealed_key(context, tls.cert, tls.key, owner)
        else:
            context.load_cert_chain(tls.cert, tls.key)
    return context


def _load_sealed_key(context: ssl.SSLContext, cert: str, sealed: str, owner: str) -> None:
    key = serialization.load_pem_private_key(
        MasterKey.load(DEFAULT_MASTER_KEY_FILE).unseal(sealed, owner=owner), password=None
    )
    password = secrets.token_bytes(32)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    fd, path = tempfile.mkstemp(prefix="splp-key-", suffix=".pem")  # created 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(encrypted)
        context.load_cert_chain(cert, path, password=password)
    finally:
        os.unlink(path)
