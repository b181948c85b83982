"""Metadata embedded in evidence files: EXIF (images), the PDF information dictionary, audio and video basics.

``extract_metadata`` returns two documents. The first is what anyone who may read the item sees:
dimensions, capture time, camera make and model, software, page count, duration. The second holds what can
identify a person or a device and is handled like a person's identity (sealed at rest, shown only with
``person:read_identity``): GPS positions (EXIF GPS IFD, the QuickTime ``©xyz`` location), serial numbers and
unique ids of bodies and lenses, owner names, artists, and the PDF title, subject, keywords, creator and
author (free text a person typed).

Files are parsed through a seekable reader over the store, so only the bytes a parser asks for are read;
pixels are never decoded. A file that does not parse is still evidence: the failure is noted, never raised.
Values are strings, integers and booleans only (no floats), so they compare exactly.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any, BinaryIO

log = logging.getLogger("precedent.evidence")

Document = dict[str, Any]

# EXIF tags (CIPA DC-008, EXIF 2.32) in the main IFD and in the Exif sub-IFD.
_PUBLIC_TAGS = {
    0x010F: "make",
    0x0110: "model",
    0x0131: "software",
    0x0132: "modified",
    0x0112: "orientation",
    0x9003: "taken",
    0x9004: "digitised",
    0x9010: "offset_time",
    0x9011: "offset_time_original",
    0xA433: "lens_make",
    0xA434: "lens_model",
}
_IDENTIFYING_TAGS = {
    0x013B: "artist",
    0x8298: "copyright",
    0xA420: "image_unique_id",
    0xA430: "camera_owner_name",
    0xA431: "body_serial_number",
    0xA435: "lens_serial_number",
    0xC614: "unique_camera_model",
    0xC62F: "camera_serial_number",
    0xC65D: "raw_data_unique_id",
}
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_GPS_TAGS = {
    0x0001: "latitude_ref",
    0x0002: "latitude",
    0x0003: "longitude_ref",
    0x0004: "longitude",
    0x0005: "altitude_ref",
    0x0006: "altitude",
    0x0007: "time",
    0x0010: "direction_ref",
    0x0011: "direction",
    0x0012: "map_datum",
    0x001D: "date",
}
_MAX_TEXT = 500


def extract_metadata(file: BinaryIO, media_type: str) -> tuple[Document, Document]:
    """Return (public, identifying) metadata of a file of the given sniffed media type."""
    extractor = _extractor_for(media_type)
    if extractor is None:
        return {}, {}
    try:
        with _quiet():
            return extractor(file)
    except Exception as exc:
        log.info("metadata of a %s file could not be read: %s", media_type, type(exc).__name__)
        return {"unreadable": type(exc).__name__}, {}


Extractor = Callable[[BinaryIO], tuple[Document, Document]]


def can_inspect(media_type: str) -> bool:
    """True when embedded metadata of this media type is read (so "no identifiers found" means something)."""
    return _extractor_for(media_type) is not None or media_type.startswith("text/")


def _extractor_for(media_type: str) -> Extractor | None:
    if media_type in ("image/jpeg", "image/png", "image/tiff", "image/webp", "image/gif", "image/bmp"):
        return _image
    if media_type == "application/pdf":
        return _pdf
    if media_type.startswith(("audio/", "video/")):
        return _media
    return None


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence parser warnings about malformed files (they would otherwise turn into test errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _value(value: Any) -> str | int | bool | None:
    """Return a JSON-exact form of an EXIF or tag value: text, integer, or a rational as text."""
    if isinstance(value, bool | int):
        return value
    if isinstance(value, bytes):
        value = value.rstrip(b"\x00").decode("utf-8", "replace")
    if isinstance(value, tuple | list):
        return ", ".join(str(_value(v)) for v in value)
    if hasattr(value, "numerator") and hasattr(value, "denominator"):
        fraction = Fraction(int(value.numerator), int(value.denominator or 1))
        return (
            str(fraction.numerator)
            if fraction.denominator == 1
            else f"{fraction.numerator}/{fraction.denominator}"
        )
    text = str(value).replace("\x00", "").strip()
    return text[:_MAX_TEXT] if text else None


def _put(document: Document, key: str, value: Any) -> None:
    converted = _value(value)
    if converted is not None and converted != "":
        document[key] = converted


def _degrees(value: Any, ref: Any) -> str | None:
    """Return an EXIF GPS (degrees, minutes, seconds) triple as signed decimal degrees, 6 places."""
    try:
        d, m, s = (Fraction(int(v.numerator), int(v.denominator)) for v in value)
    except (TypeError, ValueError, ZeroDivisionError, AttributeError):
        return None
    decimal = d + m / 60 + s / 3600
    if str(ref).upper() in ("S", "W"):
        decimal = -decimal
    micro = round(decimal * 1_000_000)
    sign = "-" if micro < 0 else ""
    return f"{sign}{abs(micro) // 1_000_000}.{abs(micro) % 1_000_000:06d}"


def _image(file: BinaryIO) -> tuple[Document, Document]:
    from PIL import Image

    public: Document = {}
    identifying: Document = {}
    with Image.open(file) as image:
        public["image"] = {
            "format": image.format,
            "width": image.width,
            "height": image.height,
            "mode": image.mode,
        }
        exif = image.getexif()
        camera: Document = {}
        ids: Document = {}
        ifds = [exif, exif.get_ifd(_EXIF_IFD)]
        for ifd in ifds:
            for tag, value in ifd.items():
                if tag in _PUBLIC_TAGS:
                    _put(camera, _PUBLIC_TAGS[tag], value)
                elif tag in _IDENTIFYING_TAGS:
                    _put(ids, _IDENTIFYING_TAGS[tag], value)
        if camera:
            public["exif"] = camera
        gps_ifd = exif.get_ifd(_GPS_IFD)
        if gps_ifd:
            gps: Document = {}
            for tag, value in gps_ifd.items():
                if tag in _GPS_TAGS:
                    _put(gps, _GPS_TAGS[tag], value)
            latitude = _degrees(gps_ifd.get(0x0002), gps_ifd.get(0x0001))
            longitude = _degrees(gps_ifd.get(0x0004), gps_ifd.get(0x0003))
            if latitude is not None and longitude is not None:
                gps["position"] = f"{latitude},{longitude}"
            ids["gps"] = gps
        if ids:
            identifying["exif"] = ids
    return public, identifying


def _pdf_date(value: Any) -> str | None:
    text = _value(value)
    return text if isinstance(text, str) else None


#: PDF information-dictionary fields kept sealed (identifying), never among the public facts of a file.
PDF_DOCUMENT_FIELDS = {
    "/Title": "title",
    "/Subject": "subject",
    "/Keywords": "keywords",
    "/Creator": "creator",
    "/Author": "author",
}


def _pdf(file: BinaryIO) -> tuple[Document, Document]:
    from pypdf import PdfReader

    reader = PdfReader(file)
    info: Document = {"version": reader.pdf_header.removeprefix("%PDF-"), "encrypted": reader.is_encrypted}
    identifying: Document = {}
    if not reader.is_encrypted:
        info["pages"] = len(reader.pages)
        meta: Any = reader.metadata or {}
        for key, name in (("/Producer", "producer"), ("/CreationDate", "created"), ("/ModDate", "modified")):
            if key in meta:
                _put(info, name, meta[key])
        # Free text a person typed (a title such as "Ivanova passport"), or a name: sealed like an identity.
        words: Document = {}
        for key, name in PDF_DOCUMENT_FIELDS.items():
            if key in meta:
                _put(words, name, meta[key])
        if words:
            identifying["pdf"] = words
    return {"pdf": info}, identifying


# MP4/QuickTime atoms (mutagen names) and ID3/Vorbis keys that name people or places.
_MEDIA_IDENTIFYING = {
    "©xyz": "location",
    "©ART": "artist",
    "©aut": "author",
    "TPE1": "artist",
    "artist": "artist",
}
_MEDIA_PUBLIC = {"©too": "encoder", "©day": "date", "TDRC": "date", "date": "date", "encoder": "encoder"}


def _media(file: BinaryIO) -> tuple[Document, Document]:
    import mutagen

    parsed = mutagen.File(file)
    if parsed is None:
        return {}, {}
    info = parsed.info
    media: Document = {"container": type(parsed).__name__}
    length = getattr(info, "length", None)
    if length:
        media["duration_ms"] = round(length * 1000)
    for attribute in ("bitrate", "sample_rate", "channels", "bits_per_sample"):
        value = getattr(info, attribute, None)
        if isinstance(value, int) and value:
            media[attribute] = value
    codec = getattr(info, "codec", None)
    if isinstance(codec, str) and codec:
        media["codec"] = codec
    identifying: Document = {}
    for key, value in (parsed.tags or {}).items():
        name = str(key)
        first = value[0] if isinstance(value, list) and value else value
        if name in _MEDIA_IDENTIFYING:
            _put(identifying, _MEDIA_IDENTIFYING[name], getattr(first, "text", first))
        elif name in _MEDIA_PUBLIC:
            _put(media, _MEDIA_PUBLIC[name], getattr(first, "text", first))
    return {"media": media}, ({"media": identifying} if identifying else {})
