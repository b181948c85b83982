"""Media type from the first bytes of a file: a small magic-number sniffer, never trusting the sender.

``sniff_media_type(head)`` looks only at ``head``, the first ``SNIFF_BYTES`` bytes (fewer for short
files), and returns an IANA media type. It knows the formats evidence usually arrives in: photos,
scans, phone video and audio, PDFs, office documents, archives and plain text. Anything else is
``application/octet-stream``. The rules follow the signatures in the WHATWG MIME Sniffing Standard
(§6 "Matching a MIME type pattern") and the ISO base media file format ``ftyp`` brands (ISO/IEC
14496-12 §4.3); the sniffer never executes or decodes the content.
"""

from __future__ import annotations

import codecs

__all__ = ["OCTET_STREAM", "SNIFF_BYTES", "sniff_media_type"]

#: How many leading bytes the sniffer wants: enough for a zip's first entry name and an ftyp box.
SNIFF_BYTES = 4096
OCTET_STREAM = "application/octet-stream"

# (offset, signature, media type), checked in order; the first match wins.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"BM", "image/bmp"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"fLaC", "audio/flac"),
    (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"#!AMR", "audio/amr"),
    (0, b"{\\rtf", "application/rtf"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"Rar!\x1a\x07", "application/vnd.rar"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
)

# RIFF containers: the form type at offset 8.
_RIFF_FORMS = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}

# ISO base media file format brands (major brand at offset 8 of the leading ftyp box).
_FTYP_BRANDS: dict[bytes, str] = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
    b"3gp6": "video/3gpp",
    b"3g2a": "video/3gpp2",
}
_MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash"}
)

_ODF_PREFIX = b"application/vnd.oasis.opendocument."
_OOXML_PARTS = (
    (b"word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (b"xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (b"ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)


def sniff_media_type(head: bytes) -> str:
    """Return the media type the leading bytes ``head`` show, or application/octet-stream."""
    for offset, signature, media_type in _SIGNATURES:
        if head.startswith(signature, offset):
            return media_type
    if head.startswith(b"RIFF") and len(head) >= 12:
        return _RIFF_FORMS.get(head[8:12], OCTET_STREAM)
    if head[4:8] == b"ftyp" and len(head) >= 12:
        return _ftyp_type(head[8:12])
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # Matroska EBML header; the DocType names WebM explicitly.
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(head)
    if _is_mp3_frame(head):
        return "audio/mpeg"
    return _text_type(head)


def _ftyp_type(brand: bytes) -> str:
    """Return the media type of an ISO BMFF major brand."""
    if brand in _FTYP_BRANDS:
        return _FTYP_BRANDS[brand]
    if brand in _MP4_BRANDS or brand.startswith(b"mp4"):
        return "video/mp4"
    return OCTET_STREAM


def _zip_type(head: bytes) -> str:
    """Tell OpenDocument and Office Open XML files from other zip archives by their first entries."""
    # Local file header: name length at offset 26, extra length at 28, name from 30 (APPNOTE 4.3.7).
    name_length = int.from_bytes(head[26:28], "little")
    extra_length = int.from_bytes(head[28:30], "little")
    name = head[30 : 30 + name_length]
    if name == b"mimetype":
        # ODF stores its media type uncompressed as the first entry (ODF 1.2 part 3, §3.3); the local
        # header's compressed size (offset 18) says where it ends.
        start = 30 + name_length + extra_length
        content = head[start : start + min(int.from_bytes(head[18:22], "little"), 100)]
        if content.startswith(_ODF_PREFIX) and all(0x21 <= byte <= 0x7E for byte in content):
            return content.decode("ascii")
    if name == b"[Content_Types].xml" or b"[Content_Types].xml" in head:
        for marker, media_type in _OOXML_PARTS:
            if marker in head:
                return media_type
    return "application/zip"


def _is_mp3_frame(head: bytes) -> bool:
    """Return True for an MPEG audio frame header (11 sync bits, layer III, a valid bitrate)."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    layer = (head[1] >> 1) & 0x3
    bitrate = head[2] >> 4
    return layer == 0x1 and bitrate not in (0x0, 0xF) and (head[2] >> 2) & 0x3 != 0x3


def _text_type(head: bytes) -> str:
    """Return a text type for UTF-8 text without control bytes, else application/octet-stream."""
    if not head:
        return OCTET_STREAM
    sample = head.removeprefix(b"\xef\xbb\xbf")
    try:
        # Incremental, because the sample may end in the middle of a multi-byte character.
        text = codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return OCTET_STREAM
    if any(ch < " " and ch not in "\t\n\r\f" for ch in text):
        return OCTET_STREAM
    start = text.lstrip().lower()
    if start.startswith(("<!doctype html", "<html")):
        return "text/html"
    if start.startswith("<svg") or (start.startswith("<?xml") and "<svg" in start[:1024]):
        return "image/svg+xml"
    if start.startswith("<?xml"):
        return "application/xml"
    return "text/plain"
