"""Signed webhooks: a source application starts a job the moment its data changes, and a run's end is told
to whoever listens. Both directions sign the same way:

    X-SPLP-Timestamp: <unix seconds>
    X-SPLP-Nonce:     <16-128 characters [A-Za-z0-9_-]>
    X-SPLP-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<nonce>." + body)>

Incoming (`POST /api/v1/etl/hooks/{token}`, gateway/control/routes/etl.py): the signature is compared in
constant time; a timestamp more than `WINDOW` seconds away from now is refused, and so is a nonce already seen
for the job within the window (kept in the catalog, migration 14), so a captured request cannot be replayed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import time
from typing import Any

import aiohttp
import orjson

from gateway.catalog.db import Database
from gateway.catalog.errors import Conflict
from gateway.catalog.util import stamp

log = logging.getLogger("splp.etl.webhooks")

WINDOW = 300  # seconds a signed request stays valid (clock skew included)
MAX_BODY = 64 * 1024
NONCE = re.compile(r"[A-Za-z0-9_-]{16,128}")
TIMESTAMP_HEADER = "x-splp-timestamp"
NONCE_HEADER = "x-splp-nonce"
SIGNATURE_HEADER = "x-splp-signature"


def signature(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.{nonce}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The three headers for a request carrying `body` (what a caller of a job's webhook sends)."""
    timestamp = str(int(now if now is not None else time.time()))
    nonce = secrets.token_urlsafe(18)
    return {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(secret, timestamp, nonce, body),
    }


class WebhookRefused(Exception):
    """Why a signed request is refused: `reason` is one of bad_signature, stale_timestamp, replayed."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def check_signature(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> tuple[int, str]:
    """(timestamp, nonce) of a correctly signed, fresh request; WebhookRefused otherwise."""
    timestamp, nonce = headers.get(TIMESTAMP_HEADER, ""), headers.get(NONCE_HEADER, "")
    given = headers.get(SIGNATURE_HEADER, "")
    if not timestamp.isdigit() or not NONCE.fullmatch(nonce) or not given:
        raise WebhookRefused(
            "bad_signature", f"send {TIMESTAMP_HEADER} (unix seconds), {NONCE_HEADER} and {SIGNATURE_HEADER}"
        )
    if not hmac.compare_digest(given.encode(), signature(secret, timestamp, nonce, body).encode()):
        raise WebhookRefused("bad_signature", "the signature does not match the body and the job's secret")
    moment = time.time() if now is None else now
    if abs(moment - int(timestamp)) > WINDOW:
        raise WebhookRefused("stale_timestamp", f"the timestamp is more than {WINDOW} s away from the server's clock")
    return int(timestamp), nonce


async def remember_nonce(db: Database, job: str, nonce: str, now: float | None = None) -> None:
    """Records a nonce for the window; WebhookRefused("replayed") when the job saw it already."""
    moment = dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC)
    try:
        async with db.transaction() as conn:
            await conn.execute(
                "DELETE FROM etl_webhook_nonces WHERE seen_at < $1", stamp(moment - dt.timedelta(seconds=2 * WINDOW))
            )
            await conn.execute(
                "INSERT INTO etl_webhook_nonces (job, nonce, seen_at) VALUES ($1, $2, $3)", job, nonce, stamp(moment)
            )
    except Conflict:
        raise WebhookRefused("replayed", "this request was received before (same nonce)") from None


async def notify(url: str, secret: str, event: dict[str, Any], *, attempts: int = 4, backoff: float = 1.0) -> bool:
    """POSTs a run's end to `url`, signed; retried with backoff on errors and 5xx. True when delivered."""
    body = orjson.dumps(event)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for attempt in range(attempts):
            try:
                headers = {"content-type": "application/json", **signed_headers(secret, body)}
                async with http.post(url, data=body, headers=headers) as response:
                    if response.status < 500:
                        return 200 <= response.status < 300
                    reason = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if attempt + 1 < attempts:
                log.warning("run-end webhook %s failed (%s); retrying", url, reason)
                await asyncio.sleep(backoff * 2**attempt)
    log.error("run-end webhook %s failed %d times; giving up", url, attempts)
    return False
