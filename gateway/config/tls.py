"""TLS settings of a listener (data plane or control API) and of a backend: the validated, frozen shape.

Paths are read as given (relative to the working directory, as `splp serve` is started); each one must
exist when the config loads, so a typo is a config error naming the key, not a failed handshake later.
"""

from __future__ import annotations

import os
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.config.units import Duration
from gateway.sealing import SEALED_PREFIX

# Forward-secret AEAD suites only (TLS 1.2); TLS 1.3 suites are OpenSSL's defaults, all of them modern.
MODERN_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!SHA1:!SHA256:!SHA384"
DEFAULT_MASTER_KEY_FILE = "var/splp/master.key"  # when neither SPLP_MASTER_KEY nor SPLP_MASTER_KEY_FILE is set
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _existing(path: str) -> str:
    if not os.path.isfile(path):
        raise ValueError(f"{path!r} is not a readable file")
    return path


def normalize_fingerprint(value: str) -> str:
    """SHA-256 fingerprint as 64 lowercase hex digits; accepts `AB:CD:...` and a `sha256:` prefix."""
    text = value.strip().lower().removeprefix("sha256:").replace(":", "")
    if not _SHA256_HEX.match(text):
        raise ValueError(f"{value!r} is not a SHA-256 fingerprint; expected 64 hex digits (colons allowed)")
    return text


class SniCertificate(_Strict):
    host: str = Field(min_length=1, description="Server name (SNI) this certificate answers, e.g. api.example.go.id.")
    cert: str = Field(description="PEM certificate chain file (leaf first).")
    key: str = Field(description="PEM private key file.")

    _files = field_validator("cert", "key")(_existing)


class ListenerTls(_Strict):
    """TLS on a listener. Without client_ca the listener never asks for a client certificate."""

    cert: str = Field(description="PEM certificate chain file (leaf first) served when no SNI entry matches.")
    key: str = Field(description="PEM private key file of `cert`.")
    sni: tuple[SniCertificate, ...] = Field((), description="A certificate per host name (SNI); exact names.")
    min_version: Literal["1.2", "1.3"] = Field("1.2", description="Oldest TLS version accepted.")
    ciphers: str = Field(MODERN_CIPHERS, description="OpenSSL cipher string for TLS 1.2 (1.3 suites are fixed).")
    client_ca: tuple[str, ...] = Field(
        (),
        description="PEM CA bundles whose client certificates the listener accepts (mTLS). The mtls policy of "
        "an API narrows this further; a certificate of any other CA fails the handshake.",
    )
    tenant_client_ca: dict[str, tuple[str, ...]] = Field(
        {}, description="Client-certificate CA bundles per tenant id; an mtls policy with issuers: tenant uses them."
    )
    watch_interval: Duration = Field(
        2.0, ge=0, description="Seconds between checks of the files for changes (0: reload on SIGHUP only)."
    )

    _files = field_validator("cert", "key")(_existing)

    @field_validator("client_ca")
    @classmethod
    def _cas(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_existing(path) for path in value)

    @field_validator("tenant_client_ca")
    @classmethod
    def _tenant_cas(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        return {tenant: tuple(_existing(path) for path in paths) for tenant, paths in value.items()}

    def files(self) -> tuple[str, ...]:
        """Every file the listener's contexts are built from (watched for changes)."""
        paths = [self.cert, self.key, *self.client_ca]
        for entry in self.sni:
            paths += [entry.cert, entry.key]
        for cas in self.tenant_client_ca.values():
            paths += cas
        return tuple(dict.fromkeys(paths))

    def all_client_cas(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.client_ca, *(p for cas in self.tenant_client_ca.values() for p in cas)]))


class BackendTls(_Strict):
    """How the gateway speaks TLS to an https backend: trust, hostname check, pinning, client certificate."""

    ca: str | None = Field(None, description="PEM CA bundle trusted for the backend (default: the system store).")
    verify_hostname: bool = Field(True, description="Check the backend certificate's name against the URL host.")
    cert: str | None = Field(None, description="PEM client certificate chain the gateway presents (mTLS).")
    key: str | None = Field(
        None,
        description="Its private key: a PEM file, or a value sealed with the master key "
        "(`splp certs seal --owner backend:<api prefix> FILE`), so the catalog never holds it in clear.",
    )
    pinned_certs: tuple[str, ...] = Field(
        (),
        description="Pinning: PEM files of the only certificates (the backend's own leaf or an intermediate) the "
        "handshake may chain to; they replace `ca` as the trust store. Empty: no pinning.",
    )

    @field_validator("ca", "cert")
    @classmethod
    def _files(cls, value: str | None) -> str | None:
        return None if value is None else _existing(value)

    @field_validator("pinned_certs")
    @classmethod
    def _pins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_existing(path) for path in value)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is None or value.startswith(SEALED_PREFIX):
            return value
        return _existing(value)

    @model_validator(mode="after")
    def _pair(self) -> BackendTls:
        if (self.cert is None) != (self.key is None):
            raise ValueError("cert and key go together: give both or neither")
        return self
