"""BagIt 1.0 bags (RFC 8493) written as one streamed zip: bytes out as entries go in, nothing buffered.

``BagWriter`` yields the zip in chunks of at least ``chunk_size`` bytes (except the last) while
payload chunks are fed to it, so a bag of any size can be sent as an HTTP response without holding
a file in memory or on disk. Every method that writes returns a generator; nothing is written until
it is iterated, and ``finish()`` refuses to run while one is left unfinished::

    writer = BagWriter("case-42_2024-05-01")
    yield from writer.add_payload("exhibits/photo.jpg", blob_chunks, expected_sha256=digest)
    yield from writer.add_payload_bytes("records/case.json", case_json)
    yield from writer.finish({"Source-Organization": "..."})

Layout inside the zip (one top-level folder, the bag)::

    <bag-name>/bagit.txt              BagIt-Version: 1.0 / Tag-File-Character-Encoding: UTF-8
    <bag-name>/data/...               payload, in the order added
    <bag-name>/bag-info.txt           Bagging-Date, Payload-Oxum, Bag-Software-Agent, then caller fields
    <bag-name>/manifest-sha256.txt    "<hex>  data/<path>" per payload file, LF line ends
    <bag-name>/manifest-sha512.txt
    <bag-name>/tagmanifest-sha256.txt covers bagit.txt, bag-info.txt and both payload manifests
    <bag-name>/tagmanifest-sha512.txt

Payload added with ``add_payload`` is stored (``ZIP_STORED``: media does not deflate) with ZIP64
sizes, since its length is unknown in advance; ``add_payload_bytes`` and tag files are deflated.
The output is not seekable, so each entry ends with a data descriptor (sizes and CRC after the data).

Paths are checked before anything is written: relative, ``/``-separated, no empty, ``.`` or ``..``
segment, no backslash, control, bidi-override or Windows-reserved character (``<>:"|?*``), and no
``%``: RFC 8493 §2.1.3 requires ``%`` to be percent-encoded in manifests, but bagit-python 1.9 does
not decode ``%25`` and would reject such a bag. Paths are NFC-normalised; two paths equal after
case folding are refused, so the bag unpacks the same on Windows and macOS. ``sanitize_filename``
turns an uploaded file name into an acceptable path segment.

Errors (all ``EvidenceStoreError``)::

    BagError                      writer misuse or bad bag-info fields
    └── UnsafePathError           a payload path or bag name that is refused   (also ValueError)
    PayloadDigestMismatch         payload bytes differ from expected_sha256    (DigestMismatch < IntegrityError)
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zipfile
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from evidence_store.digest import Digest
from evidence_store.errors import DigestMismatch, EvidenceStoreError, IntegrityError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "BagError",
    "BagWriter",
    "PayloadDigestMismatch",
    "PayloadEntry",
    "UnsafePathError",
    "encode_manifest_path",
    "sanitize_filename",
    "validate_payload_path",
]

#: Smallest chunk yielded (except the last): large writes keep HTTP and socket overhead low.
DEFAULT_CHUNK_SIZE = 64 * 1024
#: Written into bag-info.txt as Bag-Software-Agent.
SOFTWARE_AGENT = "Precedent evidence_store (BagIt 1.0 streaming zip writer)"
#: bag-info.txt labels the writer computes itself; callers may not set them.
RESERVED_LABELS = ("Bagging-Date", "Payload-Oxum", "Bag-Software-Agent")

_BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
_ALGORITHMS = ("sha256", "sha512")
_WINDOWS_RESERVED = frozenset('<>:"|?*\\')
# Bidi overrides and isolates can make "gpj.exe" display as "exe.jpg".
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MAX_SEGMENT_BYTES = 255
_EXTENSION_RE = re.compile(r"[0-9A-Za-z]{1,16}")
# zipfile needs ZIP64 declared up front for entries that might pass 2 GiB (deflate can grow data).
_ZIP64_FROM = 1 << 30
_FILE_MODE = (0o100644 << 16) | 0  # regular file, rw-r--r--
_DIR_MODE = (0o040755 << 16) | 0x10  # directory, rwxr-xr-x, MS-DOS directory bit


class BagError(EvidenceStoreError):
    """The bag writer was misused, or bag-info fields are not acceptable."""


class UnsafePathError(BagError, ValueError):
    """A payload path or bag name that could escape the bag or break on some system."""


class PayloadDigestMismatch(DigestMismatch):
    """A payload file's bytes hash to another SHA-256 than the one expected; the bag is abandoned."""

    def __init__(self, path: str, expected: Digest, found: Digest) -> None:
        """Record which payload file failed, and both digests."""
        IntegrityError.__init__(
            self, f"{path}: payload digest mismatch, expected {expected}, found {found}; bag abandoned"
        )
        self.path = path
        self.expected = expected
        self.found = found


@dataclass(frozen=True, slots=True)
class PayloadEntry:
    """A payload file as written: bag-relative path (``data/...``), size and hex digests."""

    path: str
    size: int
    sha256: str
    sha512: str


def _refused_character(ch: str) -> bool:
    """Return whether ``ch`` may not appear in a path segment."""
    return (
        ch in _WINDOWS_RESERVED
        or ch in _BIDI_CONTROLS
        or ch == "%"
        or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp")
    )


def _check_segment(segment: str, whole: str) -> None:
    """Refuse a path segment that is empty, a dot name, or has a refused character."""
    if segment in ("", ".", ".."):
        raise UnsafePathError(f"path {whole!r} has an empty, '.' or '..' segment")
    bad = [ch for ch in segment if _refused_character(ch)]
    if bad:
        raise UnsafePathError(f"path {whole!r} contains refused character {bad[0]!r}")
    if segment != segment.rstrip(" ."):
        # Windows drops trailing dots and spaces, so two names could unpack onto one file.
        raise UnsafePathError(f"path {whole!r} has a segment ending in a dot or space")
    if len(segment.encode("utf-8")) > _MAX_SEGMENT_BYTES:
        raise UnsafePathError(f"path {whole!r} has a segment longer than {_MAX_SEGMENT_BYTES} bytes")


def validate_payload_path(path: str) -> str:
    """Return the NFC form of a relative payload path (below ``data/``), or raise UnsafePathError."""
    if not isinstance(path, str) or not path:
        raise UnsafePathError("payload path must be a non-empty string")
    normal = unicodedata.normalize("NFC", path)
    if normal.startswith("/"):
        raise UnsafePathError(f"payload path {path!r} is absolute")
    for segment in normal.split("/"):
        _check_segment(segment, path)
    return normal


def sanitize_filename(name: str, *, replacement: str = "_") -> str:
    """Return ``name`` as one acceptable path segment: refused characters replaced, length capped."""
    normal = unicodedata.normalize("NFC", name)
    text = "".join(replacement if ch == "/" or _refused_character(ch) else ch for ch in normal)
    text = text.strip(" .")
    if not text:
        return replacement
    stem, dot, extension = text.rpartition(".")
    if not (dot and stem and _EXTENSION_RE.fullmatch(extension)):
        stem, extension = text, ""
    suffix = f".{extension}" if extension else ""
    budget = _MAX_SEGMENT_BYTES - len(suffix)
    encoded = stem.encode("utf-8")
    if len(encoded) > budget:
        # Cut on a character boundary, keeping the extension so the file still opens in the right program.
        stem = encoded[:budget].decode("utf-8", "ignore").rstrip(" .") or replacement
    return stem + suffix


def encode_manifest_path(path: str) -> str:
    """Percent-encode CR, LF and '%' in a manifest file path, as RFC 8493 §2.1.3 requires."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _parse_expected(value: str | Digest) -> Digest:
    """Accept ``sha256:<hex>``, bare hex (any case) or a Digest."""
    if isinstance(value, Digest):
        return value
    text = value.strip().lower()
    return Digest.parse(text) if text.startswith(Digest.prefix) else Digest.from_hex(text)


class _ChunkSink:
    """A write-only file object that collects zip output until the writer hands it out."""

    def __init__(self) -> None:
        """Start with nothing collected."""
        self._parts: list[bytes] = []
        self.pending = 0

    def write(self, data: bytes) -> int:
        """Keep ``data`` (copied if it is a mutable buffer the caller might reuse)."""
        chunk = data if isinstance(data, bytes) else bytes(data)
        self._parts.append(chunk)
        self.pending += len(chunk)
        return len(chunk)

    def flush(self) -> None:
        """Do nothing: bytes leave through take()."""

    def close(self) -> None:
        """Do nothing: the writer owns the lifetime."""

    def take(self) -> bytes:
        """Return and forget everything collected so far."""
        # A lone part is handed out as is: large stored chunks pass through without a copy.
        data = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        self._parts.clear()
        self.pending = 0
        return data


class BagWriter:
    """Write a BagIt 1.0 bag as a zip stream, one generator of bytes per call."""

    def __init__(
        self,
        bag_name: str,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        created: datetime | None = None,
        software_agent: str = SOFTWARE_AGENT,
    ) -> None:
        """Start a bag whose files all sit in the zip folder ``bag_name``."""
        if "/" in bag_name:
            raise UnsafePathError(f"bag name {bag_name!r} must be a single path segment")
        self._root = validate_payload_path(bag_name)
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        if created is not None and created.tzinfo is None:
            raise ValueError("created must be timezone-aware")
        moment = (created or datetime.now(timezone.utc)).astimezone(timezone.utc)
        self._chunk_size = chunk_size
        self._bagging_date = moment.date().isoformat()
        self._date_time = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
        self._software_agent = _check_info_value("Bag-Software-Agent", software_agent)
        self._sink = _ChunkSink()
        self._zip = zipfile.ZipFile(self._sink, "w", compression=zipfile.ZIP_DEFLATED)
        self._entries: list[PayloadEntry] = []
        self._files: set[str] = set()  # case-folded payload paths
        self._dirs: set[str] = set()  # case-folded directories that hold payload
        self._started = False
        self._pending = 0  # generators handed out but not yet run to completion
        self._writing = False
        self._failed = False
        self._finished = False

    @property
    def entries(self) -> list[PayloadEntry]:
        """Return the payload files written so far."""
        return list(self._entries)

    def add_payload(
        self,
        path_in_data: str,
        chunks: Iterable[bytes],
        expected_sha256: str | Digest | None = None,
        *,
        compress: bool = False,
    ) -> Generator[bytes, None, PayloadEntry]:
        """Return a generator that streams one payload file into the bag and returns its entry."""
        expected = None if expected_sha256 is None else _parse_expected(expected_sha256)
        path = self._claim(path_in_data)
        # The length is unknown until the end, so reserve ZIP64 sizes: the entry may pass 4 GiB.
        return self._write_payload(path, chunks, expected, compress=compress, zip64=True)

    def add_payload_bytes(
        self, path_in_data: str, data: bytes, *, compress: bool = True
    ) -> Generator[bytes, None, PayloadEntry]:
        """Return a generator that adds a small generated payload file (JSON, JSONL, CSV) to the bag."""
        path = self._claim(path_in_data)
        return self._write_payload(path, (data,), None, compress=compress, zip64=len(data) >= _ZIP64_FROM)

    def finish(self, bag_info: Mapping[str, str] | None = None) -> Generator[bytes, None, None]:
        """Return a generator that writes bag-info, manifests and tag manifests and ends the zip."""
        self._check_usable()
        if self._pending:
            raise BagError(f"{self._pending} add_payload generator(s) were not run to completion")
        fields = _check_bag_info(bag_info or {})
        self._finished = True
        return self._write_tag_files(fields)

    def _check_usable(self) -> None:
        """Refuse any call after a failure or after finish()."""
        if self._failed:
            raise BagError("the bag was abandoned after an error; start a new one")
        if self._finished:
            raise BagError("the bag is already finished")

    def _claim(self, path_in_data: str) -> str:
        """Validate a payload path and reserve it; return its bag-relative form ``data/...``."""
        self._check_usable()
        path = validate_payload_path(path_in_data)
        folded = path.casefold()
        parents = folded.split("/")[:-1]
        prefixes = {"/".join(parents[: i + 1]) for i in range(len(parents))}
        if folded in self._files or folded in self._dirs:
            raise UnsafePathError(
                f"payload path {path!r} is already used (paths are compared case-insensitively)"
            )
        if prefixes & self._files:
            raise UnsafePathError(f"payload path {path!r} puts a file where another file already is")
        self._files.add(folded)
        self._dirs |= prefixes
        self._pending += 1
        return f"data/{path}"

    def _zipinfo(self, bag_path: str, *, compress: bool) -> zipfile.ZipInfo:
        """Return the zip header for a file in the bag."""
        info = zipfile.ZipInfo(f"{self._root}/{bag_path}", date_time=self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = _FILE_MODE
        return info

    def _drain(self, *, final: bool = False) -> Generator[bytes, None, None]:
        """Yield collected output once it reaches the chunk size (or everything, when final)."""
        if self._sink.pending >= self._chunk_size or (final and self._sink.pending):
            yield self._sink.take()

    def _start(self) -> None:
        """Write bagit.txt and the data/ folder first, so a streaming reader sees them at once."""
        if self._started:
            return
        self._started = True
        self._zip.writestr(self._zipinfo("bagit.txt", compress=True), _BAGIT_TXT)
        folder = zipfile.ZipInfo(f"{self._root}/data/", date_time=self._date_time)
        folder.external_attr = _DIR_MODE
        self._zip.writestr(folder, b"")

    def _write_payload(
        self, path: str, chunks: Iterable[bytes], expected: Digest | None, *, compress: bool, zip64: bool
    ) -> Generator[bytes, None, PayloadEntry]:
        """Stream one payload entry, hashing as it goes; abandon the bag on any failure."""
        self._check_usable()
        if self._writing:
            raise BagError("another payload entry is still being written")
        self._writing = True
        try:
            self._start()
            sha256, sha512, size = hashlib.sha256(), hashlib.sha512(), 0
            with self._zip.open(self._zipinfo(path, compress=compress), "w", force_zip64=zip64) as entry:
                for chunk in chunks:
                    entry.write(chunk)
                    sha256.update(chunk)
                    sha512.update(chunk)
                    size += len(chunk)
                    yield from self._drain()
                found = Digest(sha256.hexdigest())
                if expected is not None and found != expected:
                    # Raised before the entry and the central directory are complete: the zip
                    # stays unreadable, so a broken exhibit can never pass as a complete bag.
                    raise PayloadDigestMismatch(path, expected, found)
        except BaseException:
            # Also on GeneratorExit: a half-written entry leaves the zip unusable.
            self._failed = True
            raise
        finally:
            self._writing = False
        self._pending -= 1
        record = PayloadEntry(path, size, found.hex, sha512.hexdigest())
        self._entries.append(record)
        yield from self._drain()
        return record

    def _write_tag_files(self, fields: list[tuple[str, str]]) -> Generator[bytes, None, None]:
        """Write the tag files, close the zip and yield the rest of the stream."""
        try:
            self._start()
            octets = sum(entry.size for entry in self._entries)
            info = [
                ("Bagging-Date", self._bagging_date),
                ("Payload-Oxum", f"{octets}.{len(self._entries)}"),
                ("Bag-Software-Agent", self._software_agent),
                *fields,
            ]
            tag_files = {
                "bag-info.txt": "".join(f"{label}: {value}\n" for label, value in info).encode("utf-8"),
            }
            for algorithm in _ALGORITHMS:
                tag_files[f"manifest-{algorithm}.txt"] = _manifest(
                    (getattr(entry, algorithm), entry.path) for entry in self._entries
                )
            for name, content in tag_files.items():
                self._zip.writestr(self._zipinfo(name, compress=True), content)
                yield from self._drain()
            tag_files = {"bagit.txt": _BAGIT_TXT, **tag_files}
            for algorithm in _ALGORITHMS:
                content = _manifest(
                    (hashlib.new(algorithm, data).hexdigest(), name) for name, data in tag_files.items()
                )
                self._zip.writestr(self._zipinfo(f"tagmanifest-{algorithm}.txt", compress=True), content)
            self._zip.close()
        except BaseException:
            self._failed = True
            raise
        yield from self._drain(final=True)


def _manifest(lines: Iterable[tuple[str, str]]) -> bytes:
    """Return manifest text: "<hex>  <path>" per line, paths percent-encoded as RFC 8493 requires."""
    return "".join(f"{digest}  {encode_manifest_path(path)}\n" for digest, path in lines).encode("utf-8")


_LABEL_RE = re.compile(r"[^\s:][^:\x00-\x1f\x7f]*")


def _check_info_value(label: str, value: str) -> str:
    """Refuse a bag-info value that would break the one-line-per-field format."""
    if not isinstance(value, str) or any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value):
        raise BagError(
            f"bag-info value for {label!r} must be a string without line breaks or control characters"
        )
    return value.strip()


def _check_bag_info(bag_info: Mapping[str, str]) -> list[tuple[str, str]]:
    """Validate caller bag-info fields; return them in order."""
    reserved = {label.casefold() for label in RESERVED_LABELS}
    fields = []
    for label, value in bag_info.items():
        if not isinstance(label, str) or not _LABEL_RE.fullmatch(label) or label != label.strip():
            raise BagError(f"bag-info label {label!r} is not a valid label (no colon, no control characters)")
        if label.casefold() in reserved:
            raise BagError(f"bag-info label {label!r} is computed by the writer and cannot be set")
        fields.append((label, _check_info_value(label, value)))
    return fields
