"""Which bytes a file of a declared media type starts with: the upload check of the media policy.

A small explicit table instead of a sniffing library: the policy needs the reverse question ("may a body
declared as X start like this?"), not a best guess of what it is, and it runs once per upload on at most
SNIFF_BYTES bytes. Types without a fixed signature (text/csv, application/json...) are accepted unless
they start like one of the binary formats below or an executable.
"""

from __future__ import annotations

SNIFF_BYTES = 16  # the longest check below reads 12 bytes (RIFF....WEBP)

# (offset, magic); several entries for one type are alternatives
Signature = tuple[tuple[int, bytes], ...]

_ZIP = ((0, b"PK\x03\x04"),)
_OLE2 = ((0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),)
_MP4 = ((4, b"ftyp"),)
_MATROSKA = ((0, b"\x1a\x45\xdf\xa3"),)

SIGNATURES: dict[str, tuple[Signature, ...]] = {
    "image/png": (((0, b"\x89PNG\r\n\x1a\n"),),),
    "image/jpeg": (((0, b"\xff\xd8\xff"),),),
    "image/gif": (((0, b"GIF87a"),), ((0, b"GIF89a"),)),
    "image/webp": (((0, b"RIFF"), (8, b"WEBP")),),
    "image/tiff": (((0, b"II*\x00"),), ((0, b"MM\x00*"),)),
    "image/bmp": (((0, b"BM"),),),
    "application/pdf": (((0, b"%PDF-"),),),
    "application/zip": (_ZIP, ((0, b"PK\x05\x06"),)),
    "application/gzip": (((0, b"\x1f\x8b"),),),
    # Office Open XML and OpenDocument files are zip archives; the legacy binary formats are OLE2.
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (_ZIP,),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (_ZIP,),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (_ZIP,),
    "application/vnd.oasis.opendocument.text": (_ZIP,),
    "application/vnd.oasis.opendocument.spreadsheet": (_ZIP,),
    "application/msword": (_OLE2,),
    "application/vnd.ms-excel": (_OLE2,),
    "application/vnd.ms-powerpoint": (_OLE2,),
    "audio/mpeg": (((0, b"ID3"),), ((0, b"\xff\xfb"),), ((0, b"\xff\xf3"),), ((0, b"\xff\xf2"),)),
    "audio/wav": (((0, b"RIFF"), (8, b"WAVE")),),
    "audio/x-wav": (((0, b"RIFF"), (8, b"WAVE")),),
    "audio/ogg": (((0, b"OggS"),),),
    "audio/flac": (((0, b"fLaC"),),),
    "audio/mp4": (_MP4,),
    "video/mp4": (_MP4,),
    "video/quicktime": (_MP4, ((4, b"moov"),), ((4, b"mdat"),)),
    "video/ogg": (((0, b"OggS"),),),
    "video/webm": (_MATROSKA,),
    "video/x-matroska": (_MATROSKA,),
    "video/x-msvideo": (((0, b"RIFF"), (8, b"AVI ")),),
}

# Executables (PE, ELF, Mach-O, Java class / Mach-O fat, shell scripts): refused whatever the label says.
EXECUTABLES: tuple[Signature, ...] = (
    ((0, b"MZ"),),
    ((0, b"\x7fELF"),),
    ((0, b"\xfe\xed\xfa\xce"),),
    ((0, b"\xfe\xed\xfa\xcf"),),
    ((0, b"\xce\xfa\xed\xfe"),),
    ((0, b"\xcf\xfa\xed\xfe"),),
    ((0, b"\xca\xfe\xba\xbe"),),
    ((0, b"#!"),),
)
_ALL_BINARY: tuple[Signature, ...] = tuple({sig for sigs in SIGNATURES.values() for sig in sigs})
GENERIC_BINARY = "application/octet-stream"


def _matches(prefix: bytes, signature: Signature) -> bool:
    return all(prefix[offset : offset + len(magic)] == magic for offset, magic in signature)


def starts_like(prefix: bytes, signatures: tuple[Signature, ...]) -> bool:
    return any(_matches(prefix, signature) for signature in signatures)


def check(media_type: str, prefix: bytes, deny_executables: bool) -> str | None:
    """None when `prefix` (the body's first bytes) may start a body of `media_type`, else why not."""
    if deny_executables and starts_like(prefix, EXECUTABLES):
        return f"the body is an executable, declared as {media_type}"
    expected = SIGNATURES.get(media_type)
    if expected is not None:
        if not starts_like(prefix, expected):
            return f"the body does not start like {media_type}"
        return None
    if media_type != GENERIC_BINARY and starts_like(prefix, _ALL_BINARY):
        return f"the body starts like a binary format, declared as {media_type}"
    return None
