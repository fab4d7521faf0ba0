"""Client-certificate authentication (phase: transport, PRIORITY 2500). Never buffers; fail-closed.

The listener verified the certificate's chain during the handshake (gateway.server.tls); this policy
decides per API: `required` answers 401 without one, an expired or not-yet-valid certificate is refused
(401), an issuer outside this API's list or a revoked fingerprint is refused (403). A certificate
registered to an application (cert_fingerprints / cert_subjects) makes it the caller, unless an
authentication policy later names one from a token. `forward: cert` sends the verified certificate to
the backend as RFC 9440 Client-Cert. Per-certificate verdicts on the issuer are cached.
"""

from __future__ import annotations

import time
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from pydantic import BaseModel

from gateway import errors
from gateway.context import RequestContext
from gateway.server.client_cert import ClientCert, request_cert
from gateway.types import ASGIApp, PolicyDeps, Receive, Scope, Send
from policies.mtls import errors as problems
from policies.mtls.schema import MtlsConfig

_CLIENT_CERT = b"client-cert"
_ISSUER_CACHE_MAX = 10000


def _load_cas(paths: tuple[str, ...]) -> list[x509.Certificate]:
    cas: list[x509.Certificate] = []
    for path in paths:
        with open(path, "rb") as file:
            cas.extend(x509.load_pem_x509_certificates(file.read()))
    return cas


def _issued_by(cert: x509.Certificate, cas: list[x509.Certificate]) -> bool:
    for ca in cas:
        try:
            cert.verify_directly_issued_by(ca)
            return True
        except (ValueError, TypeError, InvalidSignature):
            continue
    return False


class MtlsPolicy:
    NAME = "mtls"
    PRIORITY = 2500
    Config: type[BaseModel] = MtlsConfig

    def __init__(self, app: ASGIApp, config: MtlsConfig, *, deps: PolicyDeps) -> None:
        self.app = app
        # config-derived
        self._mode = config.mode
        listen = deps.gateway.gateway.listen
        if config.mode != "off" and listen.tls is None and not listen.trust_client_cert_header:
            raise ValueError("mtls: the gateway listener has neither tls nor trust_client_cert_header")
        paths = list(config.issuers)
        if config.issuers_from_tenant:
            tenant = deps.api.config.tenant
            tenant_cas = listen.tls.tenant_client_ca.get(tenant) if listen.tls is not None else None
            if not tenant_cas:
                raise ValueError(
                    f"mtls: issuers_from_tenant, but gateway.listen.tls.tenant_client_ca has no {tenant!r}"
                )
            paths += tenant_cas
        self._issuers = _load_cas(tuple(paths)) if paths else None  # None: whatever the listener trusts
        self._revoked = frozenset(config.revoked)
        self._require_app = config.require_application
        self._forward = config.forward == "cert"
        self._by_fingerprint: dict[str, Any] = {}
        self._by_subject: dict[str, Any] = {}
        for application in deps.gateway.applications:
            for fingerprint in application.cert_fingerprints:
                self._by_fingerprint[fingerprint] = application
            for subject in application.cert_subjects:
                self._by_subject[x509.Name.from_rfc4514_string(subject).rfc4514_string()] = application
        # shared: issuer verdicts by fingerprint (bounded; a snapshot rebuild starts a fresh one)
        self._issuer_ok: dict[str, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._mode == "off":
            return await self.app(scope, receive, send)
        ctx: RequestContext = scope["gateway"]
        cert = request_cert(scope)
        if cert is None:
            if self._mode == "required":
                return await self._refuse(send, ctx, problems.CERT_REQUIRED, "this API requires a client certificate")
            return await self.app(scope, receive, send)
        refusal = self._check(cert)
        if refusal is not None:
            return await self._refuse(send, ctx, *refusal)
        application = self._by_fingerprint.get(cert.sha256) or self._by_subject.get(cert.subject)
        if application is None and self._require_app:
            detail = f"no application is registered for the certificate {cert.sha256}"
            return await self._refuse(send, ctx, problems.CERT_UNREGISTERED, detail)
        if application is not None and ctx.application is None:
            ctx.application = application
            ctx.tenant = application.tenant
        ctx.note("client_cert_sha256", cert.sha256)
        if self._forward:
            # client-sent copies never get here: GatewayApp strips them on entry
            scope["headers"] = [*scope["headers"], (_CLIENT_CERT, cert.header_value())]
        await self.app(scope, receive, send)

    def _check(self, cert: ClientCert) -> tuple[errors.Problem, str] | None:
        if cert.sha256 in self._revoked:
            return problems.CERT_REVOKED, f"the client certificate {cert.sha256} is revoked"
        if not cert.valid_at(time.time()):
            return problems.CERT_EXPIRED, "the client certificate is outside its validity period"
        if self._issuers is not None:
            verdict = self._issuer_ok.get(cert.sha256)
            if verdict is None:
                verdict = _issued_by(cert.cert, self._issuers)
                if len(self._issuer_ok) >= _ISSUER_CACHE_MAX:
                    self._issuer_ok.clear()
                self._issuer_ok[cert.sha256] = verdict
            if not verdict:
                return problems.CERT_UNTRUSTED, f"this API does not accept certificates issued by {cert.issuer}"
        return None

    @staticmethod
    async def _refuse(send: Send, ctx: RequestContext, problem: errors.Problem, detail: str) -> None:
        await errors.send_problem(send, problem, detail, ctx.request_id)
