"""The media policy as pure ASGI (no proxy): signatures, Content-Digest parsing, analytics notes."""

from __future__ import annotations

import base64
import hashlib

import pytest

from gateway.context import RequestContext
from policies.media import digest, signatures
from policies.media.policy import MediaPolicy
from policies.media.schema import MediaConfig

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


@pytest.mark.parametrize(
    ("media_type", "prefix", "refused"),
    [
        ("image/png", PNG, False),
        ("image/png", b"MZ\x90\x00" + b"\x00" * 12, True),
        ("image/png", b"\xff\xd8\xff\xe0" + b"\x00" * 12, True),
        ("video/mp4", b"\x00\x00\x00\x18ftypisom" + b"\x00" * 4, False),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04" + b"\x00" * 12, False),
        ("application/msword", b"PK\x03\x04" + b"\x00" * 12, True),
        ("text/csv", b"nip,nama\n1,Ani\n", False),
        ("text/csv", b"\x7fELF\x02\x01\x01" + b"\x00" * 9, True),
        ("text/csv", PNG, True),
        ("application/octet-stream", PNG, False),
        ("application/octet-stream", b"MZ" + b"\x00" * 14, True),
        ("image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", False),
        ("image/webp", b"RIFF\x00\x00\x00\x00WAVEfmt ", True),
        ("image/png", b"\x89PN", True),  # shorter than the signature
    ],
)
def test_signature_check(media_type, prefix, refused):
    assert (signatures.check(media_type, prefix, deny_executables=True) is not None) is refused


def test_digest_parse_prefers_the_strongest_and_refuses_garbage():
    body = b"hello"
    sha256 = base64.b64encode(hashlib.sha256(body).digest()).decode()
    sha512 = base64.b64encode(hashlib.sha512(body).digest()).decode()
    assert digest.parse(f"sha-256=:{sha256}:".encode()) == ("sha-256", hashlib.sha256(body).digest())
    assert digest.parse(f"sha-256=:{sha256}:, sha-512=:{sha512}:".encode())[0] == "sha-512"
    assert digest.parse(f"sha-256=:{sha256}:;note=1, unixsum=:AAAA:".encode())[0] == "sha-256"
    for bad in (b"sha-256", b"sha-256=abc", b"sha-256=:!!!:", b"sha-256=:AAAA:", b"md5=:AAAAAAAAAAAAAAAAAAAAAA==:"):
        with pytest.raises(digest.DigestError):
            digest.parse(bad)


async def test_notes_digest_and_sizes_for_analytics():
    body = PNG + b"x" * 100_000
    field = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    seen = bytearray()

    async def backend(scope, receive, send):
        while True:
            message = await receive()
            seen.extend(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"stored", "more_body": False})

    policy = MediaPolicy(backend, MediaConfig(allowed_types=("image/png",)), deps=None)  # type: ignore[arg-type]
    ctx = RequestContext(b"rid", None, None, None, b"/", "127.0.0.1", b"x")  # type: ignore[arg-type]
    scope = {
        "type": "http",
        "method": "POST",
        "headers": [
            (b"content-type", b"image/png"),
            (b"content-length", str(len(body)).encode()),
            (b"content-digest", field.encode()),
        ],
        "gateway": ctx,
    }
    pieces = [body[:10], body[10:60000], body[60000:]]

    async def receive():
        piece = pieces.pop(0)
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    sent = []

    async def send(message):
        sent.append(message)

    await policy(scope, receive, send)
    assert bytes(seen) == body and sent[0]["status"] == 201
    assert ctx.extra == {"event": {"request_bytes": len(body), "request_digest": field, "response_bytes": 6}}
