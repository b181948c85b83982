"""The media type sniffer: formats evidence arrives in, told apart by their bytes alone."""

from __future__ import annotations

import io
import zipfile

import pytest

from evidence_store.sniff import OCTET_STREAM, sniff_media_type


def _zip(*entries: tuple[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


def _ftyp(brand: bytes) -> bytes:
    return b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x00\x00isommp41"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe1\x00\x10Exif", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "video/x-msvideo"),
        (_ftyp(b"heic"), "image/heic"),
        (_ftyp(b"isom"), "video/mp4"),
        (_ftyp(b"mp42"), "video/mp4"),
        (_ftyp(b"qt  "), "video/quicktime"),
        (_ftyp(b"M4A "), "audio/mp4"),
        (_ftyp(b"3gp5"), "video/3gpp"),
        (_ftyp(b"zzzz"), OCTET_STREAM),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"ID3\x04\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x64\x00", "audio/mpeg"),
        (b"OggS\x00\x02", "audio/ogg"),
        (b"fLaC\x00\x00", "audio/flac"),
        (b"#!AMR\n", "audio/amr"),
        (
            b"Hello, \xd0\xbf\xd1\x80\xd1\x8b\xd0\xb2\xd1\x96\xd1\x82\xd0\xb0\xd0\xbd\xd0\xbd\xd0\xb5\n",
            "text/plain",
        ),
        (b"  <!DOCTYPE html><html>", "text/html"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
        (b'<?xml version="1.0"?><note/>', "application/xml"),
        (b"\x00\x01\x02\x03binary", OCTET_STREAM),
        (b"", OCTET_STREAM),
    ],
)
def test_known_signatures(head: bytes, expected: str) -> None:
    assert sniff_media_type(head) == expected


def test_zip_based_documents_are_told_apart_by_their_first_entries() -> None:
    odt = _zip(("mimetype", b"application/vnd.oasis.opendocument.text"), ("content.xml", b"<x/>"))
    docx = _zip(("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<w/>"))
    xlsx = _zip(("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<w/>"))
    plain = _zip(("photos/1.jpg", b"\xff\xd8\xff"))
    assert sniff_media_type(odt[:4096]) == "application/vnd.oasis.opendocument.text"
    assert (
        sniff_media_type(docx[:4096])
        == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert (
        sniff_media_type(xlsx[:4096]) == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert sniff_media_type(plain[:4096]) == "application/zip"


def test_text_cut_inside_a_multibyte_character_is_still_text() -> None:
    text = "Прафсаюз ".encode() * 500
    assert sniff_media_type(text[:4095]) == "text/plain"  # 4095 ends inside a two-byte letter
