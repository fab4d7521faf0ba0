"""The data-plane ASGI entry: path hygiene, routing, the request context, then the API's chain.

A raw ASGI callable on purpose: per request it does one snapshot read, two dict-driven matches and
builds one RequestContext; no framework objects are created on the hot path.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import re
from pathlib import Path

import orjson

from gateway import errors, metrics
from gateway.config.errors import ConfigError
from gateway.config.load import load_config
from gateway.config.model import LoadedConfig
from gateway.context import RequestContext
from gateway.feed.compose import CATALOG_SOURCE, compose
from gateway.feed.view import CatalogView
from gateway.feed.watch import CatalogFeed
from gateway.reload import Reloader
from gateway.request_ids import VALID_REQUEST_ID, new_request_id
from gateway.server.protocol import abort_response
from gateway.snapshot import Snapshot, SnapshotHolder, Upstreams, build_snapshot
from gateway.types import Receive, Scope, Send, WorkerResources
from gateway.upstream.errors import ClientBodyAborted, ClientBodyTimeout, UpstreamError
from keymanager import resident_http

log = logging.getLogger("splp.gateway")

_BAD_RAW = re.compile(rb"%(2f|5c|00)|\\|\x00", re.IGNORECASE)
_JSON = [(b"content-type", b"application/json")]


class GatewayApp:
    def __init__(self, config: LoadedConfig) -> None:
        self.files = config  # conf/ as loaded; `config` is it merged with the catalog view
        self.view: CatalogView | None = None
        self.config = config
        self.upstreams = Upstreams(config.gateway.upstream)
        self.services = WorkerResources()
        self.holder = SnapshotHolder(build_snapshot(config, self.upstreams, self.services, version=1))
        self.reloader = Reloader(self)
        self.feed: CatalogFeed | None = None
        self.ready = False
        self.metrics = metrics.registry_for(self.services)
        # the resident OAuth2 server (keymanager/resident_http.py), served from the config of the current snapshot
        self.oauth = resident_http.OAuthEndpoints(self.services, lambda: self.holder.current.config.gateway)

    @classmethod
    def from_path(cls, path: str) -> GatewayApp:
        return cls(load_config(path))

    def rebuild(self, *, files: LoadedConfig | None = None, view: CatalogView | None = None) -> Snapshot:
        """Swaps in a snapshot of new files and/or a new catalog view (the other source unchanged).
        Raises ConfigError, and then nothing changes."""
        files = files or self.files
        view = view if view is not None else self.view
        config = compose(files, view)
        snapshot = build_snapshot(config, self.upstreams, self.services, version=self.holder.current.version + 1)
        self.files, self.view, self.config = files, view, config
        self.holder.swap(snapshot)
        return snapshot

    def _apply_view(self, view: CatalogView) -> None:
        """A catalog API whose chain cannot be built is dropped (and logged), the rest still applies."""
        try:
            snapshot = self.rebuild(view=view)
        except ConfigError as exc:
            bad = {p.path.split(".")[0].removeprefix("apis/") for p in exc.problems if p.file == CATALOG_SOURCE}
            if not bad or any(p.file != CATALOG_SOURCE for p in exc.problems):
                log.error("catalog change refused, still serving snapshot %d:\n%s", self.holder.current.version, exc)
                return
            log.error("catalog APIs skipped (their chain cannot be built):\n%s", exc)
            try:
                snapshot = self.rebuild(view=CatalogView(apis=tuple(a for a in view.apis if a[0] not in bad)))
            except ConfigError as again:
                log.error("catalog change refused, still serving snapshot %d:\n%s", self.holder.current.version, again)
                return
        log.info("catalog change applied: snapshot %d, %d APIs", snapshot.version, len(snapshot.apis))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":  # no route declares websockets: refuse before accepting
            await receive()
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path.startswith("/_"):
            return await self._builtin(path, send)
        if path.startswith(resident_http.PREFIXES):
            return await self.oauth(scope, receive, send)
        request_id = b""
        host = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if VALID_REQUEST_ID.match(value):
                    request_id = value
            elif name == b"host":
                host = value
        if not request_id:
            request_id = new_request_id()

        raw: bytes = scope.get("raw_path") or path.encode("utf-8")
        if _BAD_RAW.search(raw) or "/./" in f"{path}/" or "/../" in f"{path}/":
            return await errors.send_problem(
                send, errors.INVALID_PATH, "the path holds dot segments or encoded separators", request_id
            )
        snapshot = self.holder.current
        found = snapshot.router.match(raw.decode("latin-1"))
        if found is None:
            return await errors.send_problem(send, errors.NO_API, f"no API is published at {path}", request_id)
        api, rest = found
        method: str = scope["method"]
        resource, params, allowed = api.resources.match(method, rest)
        extra = None
        if resource is None:
            if not allowed:
                return await errors.send_problem(
                    send, errors.NO_RESOURCE, f"{api.prefix} has no resource {method} {rest or '/'}", request_id
                )
            if method != "OPTIONS":
                return await errors.send_problem(
                    send,
                    errors.METHOD_NOT_ALLOWED,
                    f"{method} is not allowed for {rest or '/'}",
                    request_id,
                    headers=[(b"allow", ", ".join(sorted(allowed)).encode())],
                )
            extra = {"allow": allowed}  # preflight: a CORS policy answers it, else the proxy says 405
        query: bytes = scope.get("query_string", b"")
        upstream_path = raw[len(api.prefix) :] or b"/"
        if query:
            upstream_path = upstream_path + b"?" + query
        client = scope.get("client")
        ctx = RequestContext(request_id, api, resource, params, upstream_path, client[0] if client else "", host)
        ctx.extra = extra
        scope["gateway"] = ctx
        try:
            await api.app(scope, receive, send)
        except ClientBodyTimeout as exc:
            log.info("request %s: %s; upstream request reset", request_id.decode(), exc)
            with contextlib.suppress(Exception):  # the response may have started: then the server closes
                await errors.send_problem(
                    send, errors.REQUEST_TIMEOUT, str(exc), request_id, headers=[(b"connection", b"close")]
                )
        except ClientBodyAborted:
            return  # the client is gone; the upstream request was reset
        except UpstreamError:
            abort_response(send)  # the backend cut its response (the proxy logged it): no clean end
        except Exception:
            log.exception("request %s: internal error", request_id.decode())
            try:
                await errors.send_problem(send, errors.INTERNAL, "the gateway failed to handle the request", request_id)
            except Exception:
                pass  # the response had started: returning incomplete makes the server close the connection

    async def _builtin(self, path: str, send: Send) -> None:
        headers = _JSON
        if path == "/_health":
            status, body = 200, b'{"status":"ok"}'
        elif path == "/_metrics":
            status, body, headers = 200, metrics.render(self.metrics), metrics.HEADERS
        elif path == "/_ready":
            snapshot = self.holder.current
            ok = self.ready
            stores = await self.services.readiness() if ok else {}
            # A store outage degrades the node but keeps it in rotation: every store has a configured
            # fallback (throttling: local / open / closed per limit), so dropping all nodes would be worse.
            state = ("degraded" if any(v != "ok" for v in stores.values()) else "ready") if ok else "starting"
            status = 200 if ok else 503
            body = orjson.dumps(
                {"status": state, "snapshot": snapshot.version, "apis": len(snapshot.apis), "stores": stores}
            )
        else:
            return await errors.send_problem(send, errors.NO_API, f"no API is published at {path}", new_request_id())
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _start_feed(self) -> None:
        storage = self.files.gateway.storage
        cache = Path(storage.catalog_cache) if storage.catalog_cache else None
        feed = CatalogFeed(storage.catalog, self._apply_view, cache=cache)
        self.feed = self.services.get("catalog", lambda: feed)  # /_ready reports it; shutdown closes it
        await feed.start()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.reloader.start()
                    if self.files.gateway.storage.serve_catalog:
                        await self._start_feed()
                except Exception as exc:  # noqa: BLE001 - reported to the server, which exits
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                # Everything built so far (modules, config, the first snapshot) lives as long as the worker:
                # moved out of the collector's generations, a full collection no longer walks it.
                gc.collect()
                gc.freeze()
                self.ready = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.ready = False
                await self.reloader.stop()
                await self.upstreams.aclose()
                await self.services.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app() -> GatewayApp:
    """uvicorn factory for worker processes: the config path comes from SPLP_CONFIG."""
    return GatewayApp.from_path(os.environ.get("SPLP_CONFIG", "conf/gateway.yaml"))
