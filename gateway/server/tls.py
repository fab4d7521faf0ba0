"""TLS on a listener: SSL contexts built from ListenerTls, SNI, and certificate reload without a restart.

uvicorn gets one *front* context, built once. Its SNI callback (OpenSSL calls it for every ClientHello,
with no name too) switches the connection to the current context for that name, so swapping the current
contexts is the whole reload: new handshakes get the new certificate, open connections keep theirs.
Files are checked every `watch_interval` seconds (a stat each) and on SIGHUP (`reload_all`); a file that
does not load is logged and the old contexts keep serving.

Client certificates: with `client_ca` the listener asks for one (CERT_OPTIONAL) and verifies its chain
against those CAs during the handshake; a certificate of an unknown CA fails the handshake (Python's ssl
module has no verify callback to defer that, nginx's `optional_no_ca`). Validity dates are NOT checked
here (X509_V_FLAG_NO_CHECK_TIME) so that the mtls policy can answer an expired certificate with its own
401 instead of a bare TLS alert; revocation, per-API issuers and identity are the policy's job too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import weakref
from typing import Any

from gateway.config.tls import ListenerTls

log = logging.getLogger("splp.tls")

_NO_CHECK_TIME = 0x200000  # OpenSSL X509_V_FLAG_NO_CHECK_TIME; the ssl module has no name for it
_LISTENERS: weakref.WeakSet[ServerTls] = weakref.WeakSet()


def server_context(tls: ListenerTls, cert: str, key: str) -> ssl.SSLContext:
    """One server context: TLS 1.2+ (or 1.3), modern AEAD suites, no compression or renegotiation."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3 if tls.min_version == "1.3" else ssl.TLSVersion.TLSv1_2
    context.set_ciphers(tls.ciphers)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(cert, key)
    cas = tls.all_client_cas()
    if cas:
        context.verify_mode = ssl.CERT_OPTIONAL
        context.verify_flags |= _NO_CHECK_TIME
        for path in cas:
            context.load_verify_locations(cafile=path)
    return context


class ServerTls:
    """The contexts of one listener, and their reload."""

    def __init__(self, tls: ListenerTls, name: str) -> None:
        self.tls = tls
        self.name = name
        # current contexts: the default one and one per SNI host name; replaced whole on reload
        self._default, self._by_host = self._build()
        self._stamp = self._files_stamp()
        self._timer: asyncio.TimerHandle | None = None
        self.front = server_context(tls, tls.cert, tls.key)
        self.front.sni_callback = self._on_sni
        _LISTENERS.add(self)

    def _build(self) -> tuple[ssl.SSLContext, dict[str, ssl.SSLContext]]:
        tls = self.tls
        by_host = {entry.host.lower(): server_context(tls, entry.cert, entry.key) for entry in tls.sni}
        return server_context(tls, tls.cert, tls.key), by_host

    def _on_sni(self, connection: ssl.SSLObject, server_name: str | None, _front: ssl.SSLContext) -> None:
        context = self._by_host.get(server_name.lower(), self._default) if server_name else self._default
        connection.context = context  # verify mode stays the front's; certificate and CA store follow this one

    def context_for(self, server_name: str | None) -> ssl.SSLContext:
        return self._by_host.get(server_name.lower(), self._default) if server_name else self._default

    def reload(self) -> bool:
        """Rebuilds the contexts from the files; True when they changed. A broken file keeps the old ones."""
        try:
            self._default, self._by_host = self._build()
        except (OSError, ssl.SSLError) as exc:
            log.error("%s TLS: certificate reload failed, still serving the previous one: %s", self.name, exc)
            return False
        self._stamp = self._files_stamp()
        log.info("%s TLS: certificates reloaded", self.name)
        return True

    def _files_stamp(self) -> tuple[tuple[int, int], ...]:
        stamp = []
        for path in self.tls.files():
            try:
                stat = os.stat(path)
                stamp.append((stat.st_mtime_ns, stat.st_size))
            except OSError:
                stamp.append((-1, -1))
        return tuple(stamp)

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Checks the files every watch_interval seconds on `loop` (a few stat calls: cheap enough inline)."""
        interval = self.tls.watch_interval
        if interval <= 0:
            return

        def check() -> None:
            if self._files_stamp() != self._stamp:
                self.reload()
            self._timer = loop.call_later(interval, check)

        self._timer = loop.call_later(interval, check)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def reload_all() -> None:
    """SIGHUP: every listener of this process rereads its certificate files."""
    for listener in list(_LISTENERS):
        listener.reload()


def context_factory(tls: ListenerTls, name: str, _config: Any, _default: Any) -> ssl.SSLContext:
    """uvicorn's `ssl_context_factory` (bind `tls` and `name` with functools.partial: it pickles for workers).

    Called by uvicorn's Config.load() inside the serving loop: the file watcher starts on that loop.
    """
    listener = ServerTls(tls, name)
    try:
        listener.watch(asyncio.get_running_loop())
    except RuntimeError:
        pass  # no running loop: SIGHUP (reload_all) still reloads
    return listener.front
