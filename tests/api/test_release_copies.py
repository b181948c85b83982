"""Files for an external audience are made, never filtered: a canary planted in every metadata container a
camera, phone or office program writes must reach no external bundle, whether the metadata reader could parse
the container or not. Every member of every bundle is unpacked and every metadata block parsed."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image, PngImagePlugin
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject

from tests.conftest import Account
from tests.factories import API, create_case, upload
from tests.leaks import find

CANARY = "Канарэйка Метадатава"
LATIN = "KanarejkaMeta"
CANARIES = [CANARY, LATIN, "Канарэйка", "53.111", "SN-CANARY-77"]
AUDIENCES = ["ilo", "ituc", "public", "partner"]


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x013B] = LATIN  # Artist
    exif[0x8298] = CANARY  # Copyright
    exif[0x9C9D] = (CANARY + "\x00").encode("utf-16-le")  # Windows XPAuthor
    exif.get_ifd(0x8769)[0xA431] = "SN-CANARY-77"  # body serial number
    exif.get_ifd(0x8825)[2] = (53.111, 0.0, 0.0)  # GPS latitude
    return exif


def _iptc_segment() -> bytes:
    """An APP13 Photoshop segment with an IPTC by-line (2:80) naming the canary."""
    value = CANARY.encode()
    record = b"\x1c\x02\x50" + struct.pack(">H", len(value)) + value
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(record)) + record
    body = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def jpeg_everything() -> bytes:
    """EXIF (artist, copyright, XPAuthor, serial, GPS), XMP, a COM comment and an IPTC block."""
    out = io.BytesIO()
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>{CANARY}</dc:creator></x:xmpmeta>'.encode()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(
        out, "JPEG", exif=_exif(), xmp=xmp, comment=CANARY.encode()
    )
    data = out.getvalue()
    return data[:2] + _iptc_segment() + data[2:]


def jpeg_broken_exif() -> bytes:
    """A JPEG whose EXIF block no parser reads, holding the canary: a parse failure must not release it."""
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 10)).save(out, "JPEG")
    data = out.getvalue()
    body = b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xff" + (LATIN + " " + CANARY).encode()
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + data[2:]


def png_text_chunks() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", LATIN)
    info.add_itxt("Description", CANARY)
    info.add_text("Comment", CANARY, zip=True)
    out = io.BytesIO()
    Image.new("RGBA", (20, 20), (1, 2, 3, 128)).save(out, "PNG", pnginfo=info, exif=_exif())
    return out.getvalue()


def webp_tags() -> bytes:
    out = io.BytesIO()
    xmp = f"<x:xmpmeta><dc:creator>{CANARY}</dc:creator></x:xmpmeta>".encode()
    Image.new("RGB", (20, 20), (9, 9, 9)).save(out, "WEBP", exif=_exif(), xmp=xmp)
    return out.getvalue()


def pdf_with_metadata() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Title": f"{CANARY} passport", "/Author": LATIN})
    xmp = DecodedStreamObject()
    xmp.set_data(f"<x:xmpmeta><dc:creator>{CANARY}</dc:creator></x:xmpmeta>".encode())
    xmp.update({NameObject("/Type"): NameObject("/Metadata"), NameObject("/Subtype"): NameObject("/XML")})
    writer.root_object[NameObject("/Metadata")] = writer._add_object(xmp)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def webm_tags() -> bytes:
    """An EBML header (WebM) followed by a tag naming the canary: video never leaves unreviewed."""
    return (
        b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm"
        + b"\x00" * 32
        + CANARY.encode()
        + b"\x00" * 64
    )


def mp3_id3() -> bytes:
    frame = b"\x03" + CANARY.encode()
    tag = b"TPE1" + struct.pack(">I", len(frame)) + b"\x00\x00" + frame
    return (
        b"ID3\x03\x00\x00"
        + bytes([0, 0, (len(tag) >> 7) & 0x7F, len(tag) & 0x7F])
        + tag
        + b"\xff\xfb\x90\x00" * 50
    )


FILES = {
    "everything.jpg": jpeg_everything,
    "broken-exif.jpg": jpeg_broken_exif,
    "text-chunks.png": png_text_chunks,
    "tags.webp": webp_tags,
    "title.pdf": pdf_with_metadata,
    "tags.webm": webm_tags,
    "id3.mp3": mp3_id3,
}


def parsed_texts(name: str, data: bytes) -> str:
    """Every metadata block a reader can parse out of a member, as text (compressed chunks decompressed)."""
    parts: list[str] = []
    if name.endswith(".pdf") or data[:5] == b"%PDF-":
        reader = PdfReader(io.BytesIO(data))
        parts += [repr(reader.metadata), repr(reader.root_object)]
        for number in range(1, int(reader.trailer["/Size"])):  # every stream, decompressed
            obj = reader.get_object(number)
            if hasattr(obj, "get_data"):
                parts.append(obj.get_data().decode("latin-1"))
        parts += [page.extract_text() or "" for page in reader.pages]
        return "\n".join(parts)
    try:
        with Image.open(io.BytesIO(data)) as image:
            parts += [repr(image.info), repr(dict(image.getexif()))]
            for ifd in (0x8769, 0x8825):
                parts.append(repr(dict(image.getexif().get_ifd(ifd))))
            if hasattr(image, "text"):
                parts.append(repr(image.text))
    except OSError:
        pass
    return "\n".join(parts)


@pytest.fixture
def planted(client: TestClient, coordinator: Account) -> str:
    case = create_case(client, coordinator, categories=["A.LIB.ARREST"], summary="Files with hidden data.")
    for name, make in FILES.items():
        upload(client, coordinator, case["id"], make(), filename=name)
    return case["id"]


@pytest.mark.parametrize("audience", AUDIENCES)
def test_no_metadata_container_reaches_an_external_bundle(
    client: TestClient, coordinator: Account, planted: str, audience: str
) -> None:
    response = client.get(
        f"{API}/cases/{planted}/bundle", params={"audience": audience}, headers=coordinator.headers
    )
    assert response.status_code == 200, response.text
    assert find(response.content, CANARIES) == []
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        for member in archive.namelist():
            data = archive.read(member)
            assert find(parsed_texts(member, data).encode(), CANARIES, where=member) == []
        exhibits = [n for n in archive.namelist() if "/data/exhibits/" in n]
        export = json.loads(
            next(archive.read(n) for n in archive.namelist() if n.endswith("records/export.json"))
        )
    # The four pictures and the PDF leave as copies made from their content; the video and audio stay home.
    assert len(exhibits) == 5, exhibits
    reasons = [w["reason"] for w in export["withheld"]]
    # Neither is a recording that decodes (a WebM header, MP3 sync words): the report says so, or that
    # nobody reviewed it; either way it stays home.
    media = [r for r in reasons if "could not be decoded" in r or "not reviewed" in r]
    assert len(media) == 2, reasons


def test_an_internal_bundle_still_carries_the_originals(
    client: TestClient, coordinator: Account, planted: str
) -> None:
    response = client.get(
        f"{API}/cases/{planted}/bundle", params={"audience": "internal"}, headers=coordinator.headers
    )
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        held = {archive.read(n) for n in archive.namelist() if "/data/exhibits/" in n}
    assert {make() for make in (jpeg_everything, jpeg_broken_exif)} <= held


def test_a_file_that_cannot_be_decoded_is_withheld_and_named(
    client: TestClient, coordinator: Account, tmp_path: Path
) -> None:
    case = create_case(client, coordinator, categories=["A.LIB.ARREST"], summary="Broken picture.")
    broken = jpeg_everything()[:200]  # cut: the pixels cannot be decoded
    upload(client, coordinator, case["id"], broken, filename="cut.jpg")
    response = client.get(
        f"{API}/cases/{case['id']}/bundle", params={"audience": "ilo"}, headers=coordinator.headers
    )
    assert find(response.content, CANARIES) == []
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        export = json.loads(
            next(archive.read(n) for n in archive.namelist() if n.endswith("records/export.json"))
        )
        assert not [n for n in archive.namelist() if "/data/exhibits/" in n]
    assert any("could not be decoded" in w["reason"] and w["withheld"] == ["E-1"] for w in export["withheld"])
