"""Canaries for the integrated leak sweep (tests/hardening/test_canary_sweep.py): unique strings planted in
identity fields, file metadata containers, file names and free text, a registry of where each was planted and
where it must never be found, and a scanner that unpacks every zip member and parses every metadata block.

A finding names the place it was found (a response, a zip member, a parsed metadata block, a file) and the
place the canary was planted, so a failure reads as a leak report.
"""

from __future__ import annotations

import functools
import html
import io
import re
import secrets
import struct
import time
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

from tests.leaks import find

#: Where a canary may be looked for. A canary is checked in the scopes it is registered for.
EXPORT = "external export"
RESEARCHER = "researcher response"
LOG = "log"
BACKUP = "backup"
DATABASE = "database file"
EVERYWHERE = frozenset({EXPORT, RESEARCHER, LOG, BACKUP, DATABASE})
#: Free text that is stored in clear by design (case texts, documenters' notes on evidence): never outside,
#: never to a researcher, never in a log or a backup; the database file holds it as typed.
NOT_AT_REST = EVERYWHERE - {DATABASE}


@dataclass(frozen=True)
class Planted:
    value: str
    planted_in: str
    scopes: frozenset[str]


@dataclass
class Canaries:
    """Every planted value, with where it was planted and where it must not appear."""

    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    planted: dict[str, Planted] = field(default_factory=dict)

    def add(self, value: str, planted_in: str, scopes: frozenset[str] = EVERYWHERE) -> str:
        known = self.planted.get(value)
        if known is not None:  # the same form planted twice: it must stay out of the union of the scopes
            planted_in = (
                known.planted_in if planted_in in known.planted_in else f"{known.planted_in}; {planted_in}"
            )
            scopes = known.scopes | scopes
        self.planted[value] = Planted(value, planted_in, scopes)
        return value

    def make(
        self, stem: str, planted_in: str, scopes: frozenset[str] = EVERYWHERE, *, latin: bool = False
    ) -> str:
        """A fresh canary such as `Канарэйка-Поўнае-3fa9c1` (or `Kanareika-...` in Latin script)."""
        base = "Kanareika" if latin else "Канарэйка"
        return self.add(f"{base}{stem}{self.suffix}", planted_in, scopes)

    def samples(self) -> list[str]:
        """One whole canary of each kind, to search for: identities, a file name, metadata, a serial, a phone."""
        kinds = (
            ": full_name",
            ": contacts phone",
            "jpeg file name",
            "pdf file metadata (Cyrillic)",
            "(serial)",
        )
        return [next(p.value for p in self.planted.values() if kind in p.planted_in) for kind in kinds]

    def in_scope(self, scope: str) -> list[str]:
        return [p.value for p in self.planted.values() if scope in p.scopes]

    def origin(self, value: str) -> str:
        return self.planted[value].planted_in


# ---- the sweep: scan, collect, report --------------------------------------------------------------------------


@dataclass
class Sweep:
    canaries: Canaries
    findings: list[tuple[str, str, str]] = field(default_factory=list)  # (scope, where, value)
    scanned: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: float = 0.0  # spent scanning

    def scan(self, scope: str, where: str, blob: bytes, *, echoed: str = "") -> list[str]:
        """Look for every canary of `scope` in `blob` (zip members unpacked, metadata blocks parsed).

        `echoed`: what the reader sent themselves (a search query, shown again in the search box). Canaries
        that are part of it are not looked for in this answer (they are looked for in every other one); a
        canary that merely contains it still is: the answer must not complete a name from a fragment.
        """
        self.scanned[scope] += 1
        started = time.monotonic()
        sent = [form.casefold() for form in (echoed, quote(echoed), quote_plus(echoed)) if echoed]
        needles = [n for n in self.canaries.in_scope(scope) if not any(n.casefold() in form for form in sent)]
        hits = deep_find(blob, needles, where=where)
        self.seconds += time.monotonic() - started
        for hit in hits:
            place, _, value = hit.rpartition(": ")
            self.findings.append((scope, place, value))
        return hits

    def report(self, detail: int = 150) -> str:
        """A summary by what was planted and where it was found, then the first findings one by one."""
        lines = [f"{len(self.findings)} canary findings (scans: {dict(self.scanned)})"]
        places: dict[tuple[str, str], list[str]] = defaultdict(list)
        for scope, place, value in self.findings:
            places[(scope, self.canaries.origin(value))].append(place)
        for (scope, origin), found in sorted(places.items()):
            unique = list(dict.fromkeys(found))
            lines.append(f"  [{scope}] planted in {origin}: found in {len(unique)} places, e.g. {unique[:3]}")
        lines.append("findings:")
        lines += [f"  [{scope}] {place}: {value!r}" for scope, place, value in self.findings[:detail]]
        if len(self.findings) > detail:
            lines.append(f"  ... and {len(self.findings) - detail} more")
        return "\n".join(lines)


#: Needles this short ("Жук", "Юра", "Ilya") are parts of ordinary words ("плюралізм"): matched as whole words.
SHORT = 5


def deep_find(blob: bytes, needles: list[str], *, where: str) -> list[str]:
    """`tests.leaks.find` over the bytes and every zip member inside them, plus every metadata block a reader
    can parse out of each image, PDF or media file among them (compressed chunks and streams decompressed).

    Beyond `find`'s encodings, a value is also looked for as Python prints bytes (a log line showing
    `b'\\xd0\\x9a...'` or UTF-16 `b'\\x1a\\x04...'`), and short needles only as whole words."""
    long = [n for n in needles if len(n) > SHORT]
    short = [n for n in needles if len(n) <= SHORT]
    found = find(blob, long, where=where)  # the bytes and, recursively, every zip member's
    for name, data in _members(blob, where):
        found += _printed_bytes(data, long, where=name)
        found += _whole_words(data, short, where=name)
        parsed = parsed_metadata(data)
        if parsed:
            found += find(parsed, long, where=f"{name} (parsed metadata)")
            found += _whole_words(parsed, short, where=f"{name} (parsed metadata)")
    return list(dict.fromkeys(found))


def _printed_bytes(blob: bytes, needles: list[str], *, where: str) -> list[str]:
    return [f"{where or '<bytes>'}: {n}" for n in needles if any(form in blob for form in _printed_forms(n))]


@functools.cache
def _printed_forms(needle: str) -> tuple[bytes, ...]:
    if needle.isascii():
        return ()
    return tuple({repr(needle.encode(e))[2:-1].encode() for e in ("utf-8", "utf-16-le", "utf-16-be")})


def _texts(blob: bytes) -> list[str]:
    text = html.unescape(blob.decode("utf-8", errors="replace"))
    unescaped = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    texts = [
        text,
        unescaped,
        blob.decode("utf-16-le", errors="replace"),
        blob.decode("utf-16-be", errors="replace"),
    ]
    return [t.casefold() for t in texts]


def _whole_words(blob: bytes, needles: list[str], *, where: str) -> list[str]:
    if not needles:
        return []
    by_folded = {n.casefold(): n for n in needles}
    pattern = _words_pattern(tuple(sorted(by_folded)))
    seen = {m.group(1) for text in _texts(blob) for m in pattern.finditer(text)}
    return [f"{where or '<bytes>'}: {by_folded[folded]}" for folded in sorted(seen)]


@functools.cache
def _words_pattern(folded: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(n) for n in folded) + r")(?!\w)")


def _members(blob: bytes, where: str) -> list[tuple[str, bytes]]:
    """The blob itself and every member of every zip inside it, recursively, with its place."""
    out = [(where, blob)]
    if blob[:4] == b"PK\x03\x04":  # named as find() names them: where!member!member
        try:
            with zipfile.ZipFile(io.BytesIO(blob)) as archive:
                for name in archive.namelist():
                    out += _members(archive.read(name), f"{where}!{name}")
        except zipfile.BadZipFile:
            pass
    return out


def _flatten(value: Any, out: list[bytes]) -> None:
    if isinstance(value, bytes | bytearray):
        out.append(bytes(value))
    elif isinstance(value, str):
        out.append(value.encode("utf-8", "surrogatepass"))
    elif isinstance(value, dict):
        for key, item in value.items():
            _flatten(key, out)
            _flatten(item, out)
    elif isinstance(value, list | tuple | set):
        for item in value:
            _flatten(item, out)
    else:
        out.append(str(value).encode())


def parsed_metadata(data: bytes) -> bytes:
    """Every metadata block of an image (EXIF and its IFDs, XMP, IPTC, comments, PNG/WebP text chunks), a PDF
    (information dictionary, XMP, every stream decompressed, page text) or an audio/video file (tags), as
    bytes for `find`; empty for anything else."""
    parts: list[bytes] = []
    if data[:5] == b"%PDF-":
        _pdf_parts(data, parts)
    elif data[:3] in (b"\xff\xd8\xff", b"GIF") or data[:8] == b"\x89PNG\r\n\x1a\n" or data[8:12] == b"WEBP":
        _image_parts(data, parts)
    elif data[:3] == b"ID3" or data[:4] in (b"\x1a\x45\xdf\xa3", b"OggS", b"fLaC") or data[4:8] == b"ftyp":
        _media_parts(data, parts)
    return b"\n".join(parts)


def _image_parts(data: bytes, parts: list[bytes]) -> None:
    from PIL import Image, IptcImagePlugin

    try:
        with Image.open(io.BytesIO(data)) as image:
            _flatten(image.info, parts)
            exif = image.getexif()
            _flatten(dict(exif), parts)
            for ifd in (0x8769, 0x8825, 0xA005):
                _flatten(dict(exif.get_ifd(ifd)), parts)
            _flatten(getattr(image, "applist", []), parts)
            _flatten(getattr(image, "text", {}), parts)
            _flatten(IptcImagePlugin.getiptcinfo(image) or {}, parts)
    except Exception as exc:
        parts.append(f"unparsed image: {type(exc).__name__}".encode())


def _pdf_parts(data: bytes, parts: list[bytes]) -> None:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        _flatten(dict(reader.metadata or {}), parts)
        xmp = reader.xmp_metadata
        if xmp is not None:
            parts.append(xmp.stream.get_data())
        for number in range(1, int(reader.trailer["/Size"])):
            try:
                obj = reader.get_object(number)
            except Exception:  # noqa: S112 - a free object number
                continue
            parts.append(repr(obj).encode())
            if hasattr(obj, "get_data"):
                parts.append(obj.get_data())
        parts += [(page.extract_text() or "").encode() for page in reader.pages]
    except Exception as exc:
        parts.append(f"unparsed pdf: {type(exc).__name__}".encode())


def _media_parts(data: bytes, parts: list[bytes]) -> None:
    import mutagen

    try:
        parsed = mutagen.File(io.BytesIO(data))
    except Exception:
        return
    if parsed is not None and parsed.tags:
        for key, value in parsed.tags.items():
            _flatten([str(key), getattr(value, "text", value)], parts)


# ---- files with canaries in every metadata container --------------------------------------------------------

#: A GPS position (N 53.1117, E 27.2229) as EXIF rationals, and the decimal forms a leak would show.
GPS_LAT, GPS_LON = (53, 6, 42.12), (27, 13, 22.44)
GPS_FORMS = ("53.1117", "27.2229", "42.12", "22.44")


@dataclass(frozen=True)
class FileCanaries:
    """The values a file's metadata carries: a person's name (Cyrillic and Latin), a device serial."""

    name: str
    latin: str
    serial: str


def _exif(c: FileCanaries) -> Any:
    from PIL import Image, TiffImagePlugin

    rational = TiffImagePlugin.IFDRational
    exif = Image.Exif()
    exif[0x010E] = c.latin + " ImageDescription"  # ImageDescription
    exif[0x013B] = c.latin  # Artist
    exif[0x8298] = c.latin + " (c)"  # Copyright
    exif[0x9C9B] = (c.name + "\x00").encode("utf-16-le")  # XPTitle
    exif[0x9C9C] = (c.name + " XPComment\x00").encode("utf-16-le")  # XPComment
    exif[0x9C9D] = (c.name + "\x00").encode("utf-16-le")  # XPAuthor (Windows "Authors")
    exif[0x9C9F] = (c.name + " XPSubject\x00").encode("utf-16-le")  # XPSubject
    details = exif.get_ifd(0x8769)
    details[0xA431] = c.serial  # BodySerialNumber
    details[0xA430] = c.latin  # CameraOwnerName
    details[0xA435] = c.serial + "-LENS"  # LensSerialNumber
    details[0x9286] = b"ASCII\x00\x00\x00" + c.latin.encode()  # UserComment
    position = exif.get_ifd(0x8825)
    position[1], position[3] = "N", "E"
    position[2] = tuple(rational(round(v * 100), 100) for v in GPS_LAT)
    position[4] = tuple(rational(round(v * 100), 100) for v in GPS_LON)
    return exif


def _xmp(c: FileCanaries) -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">'
        f"<dc:creator><rdf:Seq><rdf:li>{c.name}</rdf:li></rdf:Seq></dc:creator>"
        f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{c.latin} XMP title</rdf:li></rdf:Alt></dc:title>'
        f"<photoshop:City>{c.name} XMP city</photoshop:City>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


def _iptc_segment(c: FileCanaries) -> bytes:
    """An APP13 Photoshop segment with IPTC by-line (2:80), caption (2:120) and city (2:90)."""
    records = b""
    for dataset, value in ((80, c.name), (120, c.latin + " caption"), (90, c.name + " city")):
        raw = value.encode()
        records += b"\x1c\x02" + bytes([dataset]) + struct.pack(">H", len(raw)) + raw
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(records)) + records
    body = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def jpeg_everything(c: FileCanaries) -> bytes:
    """EXIF (artist, copyright, XP tags, serials, owner, user comment, GPS), XMP, a COM comment and IPTC."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (48, 32), (10, 120, 200)).save(
        out, "JPEG", exif=_exif(c), xmp=_xmp(c), comment=(c.name + " JPEG comment").encode()
    )
    data = out.getvalue()
    return data[:2] + _iptc_segment(c) + data[2:]


def jpeg_broken_exif(c: FileCanaries) -> bytes:
    """A JPEG whose EXIF block no parser reads, holding the canary: a parse failure must not release it."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 10)).save(out, "JPEG")
    data = out.getvalue()
    body = b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xff" + f"{c.latin} {c.name} {c.serial}".encode()
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + data[2:]


def png_text_chunks(c: FileCanaries) -> bytes:
    """tEXt, zTXt (compressed) and iTXt chunks, an eXIf chunk and XMP."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", c.latin)
    info.add_itxt("Description", c.name + " iTXt")
    info.add_text("Comment", c.name + " zTXt", zip=True)
    info.add_itxt("XML:com.adobe.xmp", _xmp(c).decode(), zip=True)
    out = io.BytesIO()
    Image.new("RGBA", (20, 20), (1, 2, 3, 128)).save(out, "PNG", pnginfo=info, exif=_exif(c))
    return out.getvalue()


def webp_tags(c: FileCanaries) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (20, 20), (9, 9, 9)).save(out, "WEBP", exif=_exif(c), xmp=_xmp(c))
    return out.getvalue()


def pdf_with_metadata(c: FileCanaries) -> bytes:
    """Information dictionary (Title, Author, Subject, Keywords, Creator) and an XMP packet."""
    from pypdf import PdfWriter
    from pypdf.xmp import XmpInformation

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata(
        {
            "/Title": f"{c.name} passport",
            "/Author": c.latin,
            "/Subject": f"{c.name} subject",
            "/Keywords": f"{c.latin} keywords",
            "/Creator": f"{c.latin} creator",
        }
    )
    xmp = XmpInformation.create()
    xmp.dc_title = {"x-default": f"{c.name} XMP title"}
    xmp.dc_creator = [c.latin]
    writer.xmp_metadata = xmp
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def webm_tags(c: FileCanaries) -> bytes:
    """An EBML header (WebM) and a tag naming the canary: video never leaves unreviewed."""
    return (
        b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm"
        + b"\x00" * 32
        + c.name.encode()
        + b"\x00" * 64
    )


def mp3_id3(c: FileCanaries) -> bytes:
    """MPEG audio frames behind an ID3v2.3 tag with artist (TPE1) and title (TIT2) naming the canary."""
    frames = b""
    for frame_id, value in ((b"TPE1", c.name), (b"TIT2", c.latin + " recording")):
        body = b"\x03" + value.encode()
        frames += frame_id + struct.pack(">I", len(body)) + b"\x00\x00" + body
    size = len(frames)
    synchsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x03\x00\x00" + synchsafe + frames + (b"\xff\xfb\x90\x00" + b"\x00" * 413) * 20


def text_note(c: FileCanaries) -> bytes:
    """A plain text file (neither image, document nor media): nothing to rebuild it from, so it stays home."""
    return f"Заява. {c.name} ({c.latin}), пашпарт {c.serial}.\n".encode()


#: file kind -> (maker, file name stem): every container listed in issue 19.
FILES = {
    "jpeg": (jpeg_everything, "passport.jpg"),
    "broken-exif": (jpeg_broken_exif, "broken.jpg"),
    "png": (png_text_chunks, "scan.png"),
    "webp": (webp_tags, "phone.webp"),
    "pdf": (pdf_with_metadata, "complaint.pdf"),
    "webm": (webm_tags, "video.webm"),
    "mp3": (mp3_id3, "voice.mp3"),
    "txt": (text_note, "note.txt"),
}
