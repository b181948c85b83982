"""BagIt 1.0 bags streamed as zip: validated by the Library of Congress bagit package after unpacking."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import struct
import subprocess
import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import bagit
import pytest

from evidence_store.bag import (
    DEFAULT_CHUNK_SIZE,
    BagError,
    BagWriter,
    PayloadDigestMismatch,
    UnsafePathError,
    encode_manifest_path,
    sanitize_filename,
    validate_payload_path,
)
from evidence_store.digest import Digest
from evidence_store.errors import DigestMismatch

BAG = "case-42_2024-05-01"
CREATED = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
PHOTO = os.urandom(300_000)
VIDEO = os.urandom(1_000_000)


def _chunks(data: bytes, size: int = 100_000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(files: dict[str, bytes], bag_info: dict[str, str] | None = None) -> list[bytes]:
    """Stream a bag with the given payload: exhibits stored, .json/.jsonl deflated."""

    def stream() -> Iterator[bytes]:
        writer = BagWriter(BAG, created=CREATED)
        for path, data in files.items():
            if path.endswith((".json", ".jsonl")):
                yield from writer.add_payload_bytes(path, data)
            else:
                yield from writer.add_payload(path, _chunks(data), expected_sha256=_sha256(data))
        yield from writer.finish(
            bag_info or {"Source-Organization": "Belarusian Congress of Democratic Trade Unions"}
        )

    return list(stream())


def _validate(output: Iterable[bytes], tmp_path: Path) -> bagit.Bag:
    """Unpack the zip and validate it with bagit-python; return the bag."""
    with zipfile.ZipFile(io.BytesIO(b"".join(output))) as archive:
        assert {name.split("/", 1)[0] for name in archive.namelist()} == {BAG}
        archive.extractall(tmp_path)
    bag = bagit.Bag(str(tmp_path / BAG))
    bag.validate()
    return bag


def test_one_file_bag_is_valid(tmp_path: Path) -> None:
    bag = _validate(_write({"exhibits/photo.jpg": PHOTO}), tmp_path)
    assert bag.version_info == (1, 0)
    assert bag.payload_entries() == {
        "data/exhibits/photo.jpg": {"sha256": _sha256(PHOTO), "sha512": hashlib.sha512(PHOTO).hexdigest()}
    }
    assert (tmp_path / BAG / "data/exhibits/photo.jpg").read_bytes() == PHOTO


def test_multi_file_bag_is_valid_with_bag_info(tmp_path: Path) -> None:
    files = {
        "exhibits/photo.jpg": PHOTO,
        "exhibits/video.mp4": VIDEO,
        "records/case.json": b'{"case":"42"}',
        "custody/events.jsonl": b'{"leaf_index":0}\n',
        "exhibits/empty.txt": b"",
    }
    bag = _validate(
        _write(files, {"Source-Organization": "BKDP", "External-Identifier": "case-42"}), tmp_path
    )
    assert bag.info["Payload-Oxum"] == f"{sum(map(len, files.values()))}.{len(files)}"
    assert bag.info["Bagging-Date"] == "2024-05-01"
    assert bag.info["Source-Organization"] == "BKDP"
    assert bag.info["External-Identifier"] == "case-42"
    assert "Precedent" in bag.info["Bag-Software-Agent"]
    assert sorted(bag.algorithms) == ["sha256", "sha512"]
    tag_manifest = (tmp_path / BAG / "tagmanifest-sha256.txt").read_text()
    for tag_file in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"):
        assert f"  {tag_file}\n" in tag_manifest


def test_cyrillic_file_names(tmp_path: Path) -> None:
    files = {"доказательства/фото протеста.jpg": PHOTO, "пратаколы/сведчанне №1.json": b"{}"}
    _validate(_write(files), tmp_path)
    manifest = (tmp_path / BAG / "manifest-sha256.txt").read_text(encoding="utf-8")
    assert f"{_sha256(PHOTO)}  data/доказательства/фото протеста.jpg\n" in manifest


def test_empty_bag_is_valid(tmp_path: Path) -> None:
    bag = _validate(_write({}), tmp_path)
    assert bag.info["Payload-Oxum"] == "0.0"


def test_files_are_written_in_one_folder_with_bagit_txt_first() -> None:
    with zipfile.ZipFile(io.BytesIO(b"".join(_write({"exhibits/a.jpg": PHOTO})))) as archive:
        names = archive.namelist()
        assert names == [
            f"{BAG}/bagit.txt",
            f"{BAG}/data/",
            f"{BAG}/data/exhibits/a.jpg",
            f"{BAG}/bag-info.txt",
            f"{BAG}/manifest-sha256.txt",
            f"{BAG}/manifest-sha512.txt",
            f"{BAG}/tagmanifest-sha256.txt",
            f"{BAG}/tagmanifest-sha512.txt",
        ]
        assert archive.read(f"{BAG}/bagit.txt") == b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


def test_exhibits_are_stored_with_zip64_and_text_deflated() -> None:
    files = {"exhibits/a.jpg": PHOTO, "records/case.json": b'{"a":1}' * 100}
    with zipfile.ZipFile(io.BytesIO(b"".join(_write(files)))) as archive:
        exhibit = archive.getinfo(f"{BAG}/data/exhibits/a.jpg")
        assert exhibit.compress_type == zipfile.ZIP_STORED
        assert exhibit.compress_size == len(PHOTO)
        assert exhibit.flag_bits & 0x08  # sizes and CRC follow the data (streamed output)
        assert archive.getinfo(f"{BAG}/data/records/case.json").compress_type == zipfile.ZIP_DEFLATED
        assert archive.getinfo(f"{BAG}/manifest-sha256.txt").compress_type == zipfile.ZIP_DEFLATED
        assert archive.testzip() is None
    # The local header of a streamed exhibit declares ZIP64 (version 4.5 and a ZIP64 extra field),
    # because its size is unknown when the header is written.
    raw = b"".join(_write(files))
    offset = exhibit.header_offset
    assert raw[offset : offset + 4] == b"PK\x03\x04"
    (version_needed,) = struct.unpack("<H", raw[offset + 4 : offset + 6])
    name_length, extra_length = struct.unpack("<HH", raw[offset + 26 : offset + 30])
    assert version_needed >= 45
    assert raw[offset + 30 + name_length : offset + 32 + name_length] == b"\x01\x00"
    assert extra_length >= 20


@pytest.mark.skipif(shutil.which("unzip") is None, reason="needs Info-ZIP unzip")
def test_info_zip_accepts_the_archive(tmp_path: Path) -> None:
    archive = tmp_path / "bag.zip"
    archive.write_bytes(b"".join(_write({"exhibits/фото.jpg": PHOTO, "records/a.json": b"{}"})))
    result = subprocess.run(["unzip", "-t", str(archive)], capture_output=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"No errors detected" in result.stdout


def test_chunks_are_at_least_64_kib_except_the_last() -> None:
    output = _write({"a.json": b"{}", "b.jpg": PHOTO, "c.json": b"[]" * 50_000, "d.jpg": VIDEO})
    assert len(output) > 3
    assert all(len(chunk) >= DEFAULT_CHUNK_SIZE for chunk in output[:-1])


def test_output_streams_while_the_payload_is_read() -> None:
    consumed = 0

    def payload() -> Iterator[bytes]:
        nonlocal consumed
        for chunk in _chunks(VIDEO, 64 * 1024):
            consumed += 1
            yield chunk

    writer = BagWriter(BAG)
    seen_at = [consumed for _ in writer.add_payload("exhibits/video.mp4", payload())]
    # Output appears after the first input chunks, long before the last one is read.
    assert seen_at[0] <= 2
    assert len(seen_at) >= consumed - 2


def test_add_payload_returns_the_entry_with_its_digests() -> None:
    writer = BagWriter(BAG)

    def stream() -> Iterator[bytes]:
        entry = yield from writer.add_payload("exhibits/a.jpg", _chunks(PHOTO))
        assert entry.path == "data/exhibits/a.jpg"
        assert entry.size == len(PHOTO)
        assert entry.sha256 == _sha256(PHOTO)
        assert entry.sha512 == hashlib.sha512(PHOTO).hexdigest()

    list(stream())
    assert [e.path for e in writer.entries] == ["data/exhibits/a.jpg"]


def test_expected_digest_accepts_digest_forms() -> None:
    for expected in (
        _sha256(PHOTO),
        _sha256(PHOTO).upper(),
        f"sha256:{_sha256(PHOTO)}",
        Digest(_sha256(PHOTO)),
    ):
        writer = BagWriter(BAG)
        list(writer.add_payload("a.jpg", [PHOTO], expected_sha256=expected))


def test_wrong_expected_digest_fails_loudly_and_leaves_no_valid_zip() -> None:
    writer = BagWriter(BAG)
    produced: list[bytes] = []
    wrong = _sha256(b"the file the database promised")
    stream = writer.add_payload("exhibits/a.jpg", _chunks(PHOTO), expected_sha256=wrong)
    with pytest.raises(PayloadDigestMismatch) as caught:
        produced.extend(stream)
    assert caught.value.path == "data/exhibits/a.jpg"
    assert caught.value.expected == Digest(wrong)
    assert caught.value.found == Digest(_sha256(PHOTO))
    assert isinstance(caught.value, DigestMismatch)
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(b"".join(produced)))
    with pytest.raises(BagError, match="abandoned"):
        writer.finish({})
    with pytest.raises(BagError, match="abandoned"):
        writer.add_payload_bytes("b.json", b"{}")


def test_abandoned_entry_abandons_the_bag() -> None:
    writer = BagWriter(BAG, chunk_size=1024)
    entry = writer.add_payload("a.jpg", _chunks(PHOTO, 4096))
    next(entry)
    entry.close()
    with pytest.raises(BagError, match="abandoned"):
        writer.finish({})


def test_finish_refuses_while_an_entry_was_not_written() -> None:
    writer = BagWriter(BAG)
    writer.add_payload_bytes("forgotten.json", b"{}")  # generator never iterated
    with pytest.raises(BagError, match="not run to completion"):
        writer.finish({})


def test_finish_twice_is_refused() -> None:
    writer = BagWriter(BAG)
    list(writer.finish({}))
    with pytest.raises(BagError, match="already finished"):
        writer.finish({})


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/etc/passwd",
        "../outside.jpg",
        "a/../../b.jpg",
        "a/./b.jpg",
        "a//b.jpg",
        "a/",
        "a\\b.jpg",
        "C:/x.jpg",
        "a\x00b",
        "line\nbreak.txt",
        "carriage\rreturn.txt",
        "tab\there.txt",
        "del\x7f.txt",
        "c1\x85.txt",
        "gpj\u202eexe.jpg",
        "50%.jpg",
        "what?.jpg",
        "trailing-dot.",
        "trailing-space ",
        "x" * 256,
    ],
)
def test_unsafe_paths_are_refused(path: str) -> None:
    with pytest.raises(UnsafePathError):
        validate_payload_path(path)
    with pytest.raises(UnsafePathError):
        BagWriter(BAG).add_payload_bytes(path, b"x")


def test_paths_are_nfc_normalised() -> None:
    decomposed = "cafe\u0301.jpg"
    assert validate_payload_path(f"exhibits/{decomposed}") == "exhibits/caf\u00e9.jpg"


def test_duplicate_paths_are_refused_case_insensitively() -> None:
    writer = BagWriter(BAG)
    writer.add_payload_bytes("exhibits/Photo.JPG", b"1")
    with pytest.raises(UnsafePathError, match="already used"):
        writer.add_payload_bytes("exhibits/photo.jpg", b"2")
    with pytest.raises(UnsafePathError, match="already used"):
        writer.add_payload_bytes("Exhibits", b"3")
    with pytest.raises(UnsafePathError, match="where another file"):
        writer.add_payload_bytes("exhibits/photo.jpg/inner.txt", b"4")


def test_bag_name_must_be_one_safe_segment() -> None:
    for name in ("a/b", "..", "", "x\ny"):
        with pytest.raises(UnsafePathError):
            BagWriter(name)


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ({"Payload-Oxum": "1.1"}, "computed by the writer"),
        ({"bagging-date": "2020-01-01"}, "computed by the writer"),
        ({"Bad:Label": "x"}, "not a valid label"),
        ({" Padded": "x"}, "not a valid label"),
        ({"Contact-Name": "two\nlines"}, "line breaks"),
    ],
)
def test_bad_bag_info_is_refused(info: dict[str, str], message: str) -> None:
    with pytest.raises(BagError, match=message):
        BagWriter(BAG).finish(info)


def test_manifest_paths_percent_encode_cr_lf_and_percent() -> None:
    assert encode_manifest_path("data/a%b\r\nc.txt") == "data/a%25b%0D%0Ac.txt"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("report..pdf", "report..pdf"),
        ("C:\\Users\\x.doc", "C__Users_x.doc"),
        ("50% off?.pdf", "50_ off_.pdf"),
        ("  .hidden. ", "hidden"),
        ("\u202egpj.exe", "_gpj.exe"),
        ("", "_"),
        ("...", "_"),
        ("фото.jpg", "фото.jpg"),
        ("я" * 200 + ".jpeg", "я" * 125 + ".jpeg"),
    ],
)
def test_sanitize_filename_gives_an_acceptable_segment(name: str, expected: str) -> None:
    cleaned = sanitize_filename(name)
    assert cleaned == expected
    validate_payload_path(cleaned)
