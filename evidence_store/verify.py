"""Offline verification of evidence bundles and store copies: BagIt (RFC 8493), RFC 6962, RFC 3161.

Everything here runs with Python and ``cryptography`` alone, trusting nothing on the server that
produced the files. Every check that fails is reported, naming the item (a path in the bag, a blob
path, or a leaf index) with expected and found values; nothing stops at the first failure.

What is checked
---------------
A bundle (a BagIt bag as a ``.zip``, read in place without extracting, or as an unpacked folder):

- the zip holds one top-level folder; no entry is absolute, contains ``..``, a backslash or a
  control character, is a symbolic link, is encrypted, or appears twice;
- ``bagit.txt`` declares a version and UTF-8; every line of every SHA-2 payload manifest matches
  the bytes of its file; every payload file is listed in every manifest and every listed file
  exists; ``Payload-Oxum`` matches; every tag-manifest line matches its tag file;
- if ``data/custody/`` exists: the tree head's Ed25519 signature and key id, each event's leaf
  (hash, shown fields, inclusion proof against the signed root), and the RFC 3161 token if present.

A store copy (a folder with ``sha256/ab/cd/<hex>`` blobs): every blob is re-hashed and must hash
to its own name; if ``custody/`` holds the ledger, the Merkle root of all its records must equal
the signed tree head's root.

File formats (the API writes exactly these; ``custody_bundle_files`` and ``event_line`` build them)
-------------------------------------------------------------------------------------------------
Bundle, in ``data/custody/`` of the bag (so the payload manifests cover them too)::

    tree-head.json   {"key_id":"<64 hex>","root_hash":"<64 hex>","signature":"<128 hex>",
                      "timestamp":"YYYY-MM-DDTHH:MM:SS.mmmZ","tree_size":<int>}
                     signature: Ed25519 over the signed bytes described in evidence_store.treehead,
                     b"precedent-tree-head-v1\\n<tree_size>\\n<root hex>\\n<timestamp>\\n";
                     key_id: hex SHA-256 of the raw 32-byte public key
    public-key.pem   the Ed25519 public key, SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY")
    events.jsonl     one JSON object per line (UTF-8, LF), one line per custody event in the bag:
                     {"leaf_index":<int>,"leaf":"<base64>","leaf_hash":"<64 hex>", ...record fields}
                     leaf: standard base64 (RFC 4648 §4, padded) of the exact bytes that were hashed
                     as the RFC 6962 leaf, i.e. leaf hash = SHA-256(0x00 || leaf);
                     leaf_hash: optional; if present it must equal that hash;
                     record fields: optional; if any member other than leaf_index, leaf and
                     leaf_hash is present, the leaf must be a JSON object with exactly those
                     members and values (the leaf is meant to be canonical_json(record)), so what
                     a reader sees is what was hashed
    proofs.json      {"inclusion_proofs":[{"leaf_index":<int>,"tree_size":<int>,
                      "leaf_hash":"<64 hex>","audit_path":["<64 hex>", ...]}, ...]}
                     one proof per event; tree_size equals the tree head's; audit_path is RFC 6962
                     PATH(leaf_index, D[tree_size]), leaf level first
    tree-head.tsr    optional: DER RFC 3161 TimeStampResp (or bare token) whose messageImprint is
                     SHA-256 of the tree head's signed bytes

Store copy::

    sha256/ab/cd/<hex>       every blob; ab and cd are the first two and next two hex digits
    tmp/                     uploads in progress; ignored
    custody/ledger.jsonl     every ledger record in leaf order 0..n-1, same line format as
                             events.jsonl (leaf_index must equal the line's position)
    custody/tree-head.json   as above; the ledger may run past tree_size (records not yet signed)
    custody/public-key.pem   as above
    custody/tree-head.tsr    optional, as above

Trust: without ``public_key`` the signature is checked with the key shipped next to it, which
only proves consistency; pass the organisation's published key to prove origin. The TSA's
certificate is reported (subject, SHA-256) for comparison with what the TSA publishes.

Errors (all ``EvidenceStoreError``)::

    VerificationInputError        the path is neither a bag, a bag zip nor a store copy  (also ValueError)
"""

from __future__ import annotations

import abc
import base64
import binascii
import hashlib
import itertools
import json
import os
import queue
import re
import stat
import struct
import threading
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evidence_store.binding import (
    FILE_ACTIONS,
    MANIFEST_PATH,
    ProvenEvent,
    check_blobs_bound,
    check_bundle_binding,
)
from evidence_store.errors import EvidenceStoreError
from evidence_store.heads import EARLIER_HEADS, check_earlier_heads
from evidence_store.merkle import (
    HASH_SIZE,
    MerkleTree,
    ProofError,
    leaf_hash,
    root_from_leaf_hashes,
    verify_inclusion,
)
from evidence_store.report import Problem, VerificationReport
from evidence_store.strictjson import load_json
from evidence_store.treehead import (
    KeyFormatError,
    SignedTreeHead,
    TreeHeadFormatError,
    TreeHeadSignatureError,
    key_id,
    load_public_key,
    public_key_pem,
)
from evidence_store.tsa_chain import verify_token_chain
from evidence_store.tsp import TimestampError, verify_timestamp_token

__all__ = [
    "RESERVED_EVENT_KEYS",
    "Problem",
    "VerificationInputError",
    "VerificationReport",
    "custody_bundle_files",
    "event_line",
    "proofs_json",
    "verify_bag_dir",
    "verify_bag_zip",
    "verify_path",
    "verify_store_dir",
]

#: Members of an events.jsonl / ledger.jsonl line that are not record fields.
RESERVED_EVENT_KEYS = frozenset({"leaf_index", "leaf", "leaf_hash"})
#: Bytes read per block when hashing.
BLOCK_SIZE = 1024 * 1024
#: Largest tag or custody JSON file read into memory (events.jsonl and ledger.jsonl are streamed).
MAX_SMALL_FILE = 256 * 1024 * 1024

#: Manifest algorithms checked; weaker ones (md5, sha1) are reported as unchecked.
_ALGORITHMS = ("sha224", "sha256", "sha384", "sha512")
_MANIFEST_RE = re.compile(r"(tag)?manifest-([a-z0-9]+)\.txt")
_MANIFEST_LINE_RE = re.compile(r"([0-9A-Fa-f]+)[ \t]+(.+)")
_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
_PERCENT_RE = re.compile(r"%(0[DdAa]|25)")
_BLOB_RE = re.compile(r"sha256/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_CUSTODY = "data/custody/"


class VerificationInputError(EvidenceStoreError, ValueError):
    """The path to verify is neither a bag zip, a bag folder nor a store copy."""


@dataclass(frozen=True, slots=True)
class Trust:
    """What the recipient trusts: the organisation's published key, and the TSA roots (PEM or DER files)."""

    public_key: Ed25519PublicKey | None = None
    tsa_roots: tuple[bytes, ...] = ()


# --------------------------------------------------------------------------- producing the formats


def event_line(leaf_index: int, leaf: bytes, *, show_fields: bool = True) -> bytes:
    """Return one events.jsonl / ledger.jsonl line (with LF); a JSON-object leaf shows its fields."""
    line: dict[str, Any] = {
        "leaf_index": leaf_index,
        "leaf": base64.b64encode(leaf).decode("ascii"),
        "leaf_hash": leaf_hash(leaf).hex(),
    }
    record = _json_object_or_none(leaf) if show_fields else None
    if record:
        clash = RESERVED_EVENT_KEYS & record.keys()
        if clash:
            raise ValueError(f"record uses reserved member name(s) {sorted(clash)}")
        line |= record
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def proofs_json(tree: MerkleTree, leaf_indexes: Iterable[int], tree_size: int) -> bytes:
    """Return proofs.json: an inclusion proof in the tree of ``tree_size`` for each leaf index."""
    return _proofs_json(_proofs_of(tree, leaf_indexes, tree_size))


def _proofs_of(tree: MerkleTree, leaf_indexes: Iterable[int], tree_size: int) -> dict[int, _Proof]:
    """Return leaf index -> its inclusion proof in the tree of ``tree_size``."""
    return {
        index: _Proof(tree_size, tree.leaf_hash(index), tree.inclusion_proof(index, tree_size))
        for index in leaf_indexes
    }


def _proofs_json(proofs: Mapping[int, _Proof]) -> bytes:
    """Return proofs.json for proofs already made (or read)."""
    document = [
        {
            "leaf_index": index,
            "tree_size": proof.tree_size,
            "leaf_hash": proof.leaf_hash.hex(),
            "audit_path": [h.hex() for h in proof.audit_path],
        }
        for index, proof in proofs.items()
    ]
    return json.dumps({"inclusion_proofs": document}, separators=(",", ":")).encode("ascii") + b"\n"


def proofs_text(proofs: Mapping[int, _Proof]) -> bytes:
    """Return proofs.txt: a line per proof, ``<leaf_index> <tree_size> <leaf_hash> <audit path hex>...``."""
    lines = [
        " ".join(
            [str(index), str(proof.tree_size), proof.leaf_hash.hex(), *(h.hex() for h in proof.audit_path)]
        )
        for index, proof in proofs.items()
    ]
    return "".join(line + "\n" for line in lines).encode("ascii")


def custody_bundle_files(
    *,
    tree: MerkleTree,
    signed_head: SignedTreeHead,
    public_key: Ed25519PublicKey,
    leaves: Mapping[int, bytes],
    timestamp_response: bytes | None = None,
) -> dict[str, bytes]:
    """Return the files for ``data/custody/`` (name -> bytes) proving ``leaves`` against ``signed_head``."""
    head = signed_head.head
    if tree.root(head.tree_size) != head.root_hash:
        raise ValueError(f"the tree's root at size {head.tree_size} is not the signed root")
    signed_head.verify(public_key)
    for index, leaf in leaves.items():
        if index >= head.tree_size or tree.leaf_hash(index) != leaf_hash(leaf):
            raise ValueError(f"leaf {index} is not in the signed tree with these bytes")
    indexes = sorted(leaves)
    proofs = _proofs_of(tree, indexes, head.tree_size)
    files = {
        "tree-head.json": signed_head.to_json(),
        "public-key.pem": public_key_pem(public_key),
        "events.jsonl": b"".join(event_line(i, leaves[i]) for i in indexes),
        "proofs.json": _proofs_json(proofs),
        # The same facts in the forms a person checks with openssl and a shell (see the bundle's README).
        "tree-head.txt": head.signed_bytes(),
        "tree-head.sig": signed_head.signature,
        "proofs.txt": proofs_text(proofs),
    }
    if timestamp_response is not None:
        files["tree-head.tsr"] = timestamp_response
    return files


# --------------------------------------------------------------------------- small helpers


def _json_object_or_none(data: bytes) -> dict[str, Any] | None:
    """Return ``data`` parsed as a JSON object, or None if it is not one."""
    try:
        value = load_json(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# One encoder for every comparison: json.dumps() with options builds a new encoder per call.
_COMPARABLE_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


# Sorted, compact, UTF-8: for the usual record this is byte for byte canonical_json().
_COMPACT_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _comparable(value: Any) -> str:
    """Return a JSON text that differs whenever two JSON values differ (true vs 1, 1 vs 1.0)."""
    return _COMPARABLE_ENCODER.encode(value)


class _HashThread:
    """Feed blocks, in order, to one hash on a thread of its own: hashlib releases the GIL on large buffers.

    A bag with SHA-256 and SHA-512 manifests needs both over every byte; on two cores the second hash runs
    beside reading and the first one instead of after them (a 1 GiB exhibit verifies about 1.7x faster,
    bench/bench_verify.py). The queue is bounded, so memory stays a few blocks whatever the file's size.
    """

    def __init__(self, hasher: Any) -> None:
        """Start the thread."""
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self._hasher = hasher
        self._thread = threading.Thread(target=self._run, name="verify-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (block := self._queue.get()) is not None:
            self._hasher.update(block)

    def put(self, block: bytes) -> None:
        """Queue a block (waits while the queue is full)."""
        self._queue.put(block)

    def close(self) -> None:
        """Let the thread finish the queued blocks and end."""
        self._queue.put(None)
        self._thread.join()


def _hash_chunks(chunks: Iterable[bytes], algorithms: Iterable[str]) -> tuple[dict[str, str], int]:
    """Hash a byte stream with several algorithms at once; return (name -> hex, byte count).

    The first algorithm runs here; from the second block on, each other one runs on a thread of its own.
    """
    hashers = {name: hashlib.new(name) for name in algorithms}
    first, *others = hashers.values()
    threads: list[_HashThread] = []
    size = 0
    try:
        for number, chunk in enumerate(chunks):
            size += len(chunk)
            if number == 1 and others:  # a file of more than one block: worth a thread per other hash
                threads = [_HashThread(hasher) for hasher in others]
            if threads:
                for thread in threads:
                    thread.put(chunk)
            else:
                for hasher in others:
                    hasher.update(chunk)
            first.update(chunk)
    finally:
        for thread in threads:
            thread.close()
    return {name: h.hexdigest() for name, h in hashers.items()}, size


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Split a byte stream into LF-terminated lines (without the LF), streaming."""
    rest = b""
    for chunk in chunks:
        rest += chunk
        *complete, rest = rest.split(b"\n")
        yield from complete
    if rest:
        yield rest


def _unsafe_reason(path: str) -> str | None:
    """Return why a bag-relative path could escape the bag or mislead, or None if it is safe."""
    if path.startswith("/") or re.match(r"[A-Za-z]:", path):
        return "absolute path"
    if "\\" in path:
        return "backslash in path"
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in path):
        return "control character in path"
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        return "empty, '.' or '..' path segment"
    return None


def _nfc(text: str) -> str:
    """Return the NFC form, so names from macOS (NFD) and elsewhere compare equal, as bagit-python does."""
    return unicodedata.normalize("NFC", text)


def _decode_manifest_path(text: str) -> str:
    """Undo the percent-encoding of CR, LF and '%' that RFC 8493 §2.1.3 prescribes."""
    return _PERCENT_RE.sub(lambda m: {"0d": "\r", "0a": "\n", "25": "%"}[m[1].lower()], text)


# --------------------------------------------------------------------------- bag sources


class _UnreadableError(Exception):
    """A file in the bag could not be read (damaged zip entry, I/O error)."""


class _BagSource(abc.ABC):
    """The files of one bag by bag-relative path, read from a zip or a folder."""

    def __init__(self, report: VerificationReport) -> None:
        """Start with no files; subclasses index them."""
        self.report = report
        self.sizes: dict[str, int] = {}  # bag-relative path -> size

    @abc.abstractmethod
    def chunks(self, path: str) -> Iterator[bytes]:
        """Yield the bytes of the file at ``path`` in blocks."""

    def read(self, path: str) -> bytes:
        """Return a small file whole."""
        if self.sizes.get(path, 0) > MAX_SMALL_FILE:
            raise _UnreadableError(f"larger than {MAX_SMALL_FILE} bytes")
        return b"".join(self.chunks(path))


class _DirSource(_BagSource):
    """A bag unpacked in a folder; symbolic links and special files are reported, never followed."""

    def __init__(self, root: Path, report: VerificationReport, label: str = "") -> None:
        """Index the regular files under ``root``; ``label`` prefixes the names in problems."""
        super().__init__(report)
        self.root = root
        for directory, dirnames, filenames in os.walk(root, followlinks=False):
            for name in list(dirnames):
                if os.path.islink(os.path.join(directory, name)):
                    dirnames.remove(name)
                    filenames.append(name)  # reported below as a link
            for name in filenames:
                full = os.path.join(directory, name)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                info = os.lstat(full)
                if stat.S_ISLNK(info.st_mode):
                    report.problem(label + rel, "symbolic link (not followed)")
                elif not stat.S_ISREG(info.st_mode):
                    report.problem(label + rel, "not a regular file")
                else:
                    self.sizes[rel] = info.st_size

    def chunks(self, path: str) -> Iterator[bytes]:
        """Yield the file's bytes in blocks."""
        try:
            with open(self.root / path, "rb", buffering=0) as file:
                while block := file.read(BLOCK_SIZE):
                    yield block
        except OSError as exc:
            raise _UnreadableError(str(exc)) from exc


class _ZipSource(_BagSource):
    """A bag inside a zip, read entry by entry from the archive without extracting it."""

    def __init__(self, file: BinaryIO, label: str, report: VerificationReport) -> None:
        """Index the zip's entries, reporting structural problems; ``label`` names the file."""
        super().__init__(report)
        self.file = file
        self.bag_name = ""
        self._infos: dict[str, zipfile.ZipInfo] = {}
        try:
            infos = zipfile.ZipFile(file).infolist()
        # zipfile raises NotImplementedError for a damaged "version needed" field, EOFError for a cut one.
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError, struct.error) as exc:
            report.problem(label, f"not a readable zip file: {exc}")
            return
        declared = _declared_entry_count(file)
        if declared is not None and declared != len(infos):
            # A damaged central directory record hides the entries after it from ordinary readers.
            report.problem(
                label, "the zip's central directory does not list every entry", str(declared), str(len(infos))
            )
        self._index(infos)

    def _index(self, infos: list[zipfile.ZipInfo]) -> None:
        """Find the bag folder and map bag-relative paths to entries, reporting unsafe entries."""
        report = self.report
        # orig_filename is the name as stored; .filename is cut at a NUL byte, which would hide it.
        for name, count in Counter(info.orig_filename for info in infos).items():
            if count > 1:
                report.problem(name, f"zip entry appears {count} times")
        roots = Counter(info.orig_filename.split("/", 1)[0] for info in infos if "/" in info.orig_filename)
        loose = [info.orig_filename for info in infos if "/" not in info.orig_filename]
        for name in loose:
            report.problem(name, "file outside the bag folder")
        if len(roots) != 1:
            found = ", ".join(sorted(roots)) or "none"
            report.problem("(zip)", "the zip must hold exactly one top-level folder", "1 folder", found)
            with_bagit = [r for r in roots if f"{r}/bagit.txt" in {i.orig_filename for i in infos}]
            if len(with_bagit) != 1:
                return
            self.bag_name = with_bagit[0]
        else:
            self.bag_name = next(iter(roots))
        if _unsafe_reason(self.bag_name):
            report.problem(f"{self.bag_name}/", "unsafe name for the bag folder")
            return
        prefix = f"{self.bag_name}/"
        for info in infos:
            if not info.orig_filename.startswith(prefix):
                if "/" in info.orig_filename:  # loose top-level files were reported above
                    report.problem(info.orig_filename, "outside the bag folder")
                continue
            mismatch = self._local_header_problem(info)
            if mismatch:
                # The central directory and the file's own header disagree: two readers could see two bags.
                report.problem(info.orig_filename, mismatch)
                continue
            if info.is_dir():
                if info.CRC or info.file_size or info.compress_size:
                    report.problem(info.orig_filename, "a folder entry claims to hold data")
                continue
            rel = info.orig_filename[len(prefix) :]
            reason = _unsafe_reason(rel)
            mode = info.external_attr >> 16
            if reason:
                report.problem(info.orig_filename, f"unsafe zip entry: {reason}")
            elif stat.S_ISLNK(mode):
                report.problem(rel, "symbolic link in the zip (not followed)")
            elif info.flag_bits & 0x1:
                report.problem(rel, "encrypted zip entry")
            elif info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                report.problem(rel, f"unsupported zip compression method {info.compress_type}")
            elif rel not in self._infos:
                self._infos[rel] = info
                self.sizes[rel] = info.file_size

    def _local_header_problem(self, info: zipfile.ZipInfo) -> str | None:
        """Compare an entry's local file header with its central directory record; say what differs."""
        if info.header_offset < 0:
            return "the central directory points before the start of the file"
        try:
            self.file.seek(info.header_offset)
            header = self.file.read(30)
        except OSError:
            return "local file header unreadable"
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            return "local file header missing"
        flags, method = struct.unpack("<HH", header[6:10])
        name_length, _extra = struct.unpack("<HH", header[26:30])
        encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
        if self.file.read(name_length) != info.orig_filename.encode(encoding):
            return "local file header names a different file than the central directory"
        if method != info.compress_type or (flags & 0x1) != (info.flag_bits & 0x1):
            return "local file header and central directory disagree on compression or encryption"
        return None

    def chunks(self, path: str) -> Iterator[bytes]:
        """Yield an entry's bytes, decompressing with bounded output, and check its CRC-32 and size."""
        info = self._infos[path]
        # Read the entry straight from the archive rather than through ZipFile.open(): that raises
        # on a CRC mismatch before handing over the last bytes, and the report needs the digest
        # of exactly what is there.
        try:
            crc, size = 0, 0
            for block in self._entry_blocks(info):
                crc = zlib.crc32(block, crc)
                size += len(block)
                yield block
        except (OSError, zlib.error, struct.error) as exc:
            raise _UnreadableError(f"damaged zip entry: {exc}") from exc
        if crc != info.CRC or size != info.file_size:
            # The manifests may still prove the bytes, but unzip tools refuse such an entry: the bundle is damaged.
            self.report.problem(
                path,
                "zip CRC-32/size do not match the bytes stored (changed after packing, or damaged)",
                f"crc {info.CRC:08x}, {info.file_size} bytes",
                f"crc {crc:08x}, {size} bytes",
            )

    def _entry_blocks(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        """Yield the uncompressed bytes of an entry, reading its data after the local header."""
        self.file.seek(info.header_offset)
        header = self.file.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise _UnreadableError("local file header missing")
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
        if self.file.read(name_length) != info.orig_filename.encode(encoding):
            # Readers that trust local headers would see another file than the directory lists.
            raise _UnreadableError("local file header names a different file than the central directory")
        self.file.seek(info.header_offset + 30 + name_length + extra_length)
        inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
        remaining = info.compress_size
        while remaining:
            block = self.file.read(min(BLOCK_SIZE, remaining))
            if not block:
                raise _UnreadableError("zip entry is truncated")
            remaining -= len(block)
            if inflater is None:
                yield block
                continue
            # Bounded output per step: a small deflated entry cannot balloon in memory.
            out = inflater.decompress(block, BLOCK_SIZE)
            while out:
                yield out
                out = inflater.decompress(inflater.unconsumed_tail, BLOCK_SIZE)
        if inflater is not None:
            yield inflater.flush()
            # A damaged stream can still inflate to the right bytes; an unfinished or padded one is damage.
            if not inflater.eof or inflater.unused_data:
                raise _UnreadableError("the compressed data does not end where the zip entry ends")


def _declared_entry_count(file: BinaryIO) -> int | None:
    """Return the number of entries the zip's end records declare (ZIP64 when present), or None if unknown."""
    try:
        file.seek(0, os.SEEK_END)
        size = file.tell()
        tail_start = max(0, size - (65535 + 22))
        file.seek(tail_start)
        tail = file.read()
    except OSError:
        return None
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None
    (count,) = struct.unpack("<H", tail[at + 10 : at + 12])
    if count != 0xFFFF:
        return int(count)
    locator = tail.rfind(b"PK\x06\x07", 0, at)
    if locator < 0:
        return None
    (record,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
    try:
        file.seek(record)
        zip64 = file.read(56)
    except OSError:
        return None
    if zip64[:4] != b"PK\x06\x06":
        return None
    (count64,) = struct.unpack("<Q", zip64[32:40])
    return int(count64)


# --------------------------------------------------------------------------- bags


def verify_bag_zip(
    path: Path, *, public_key: Ed25519PublicKey | None = None, tsa_roots: Sequence[bytes] = ()
) -> VerificationReport:
    """Verify a bag packed in a zip, reading entries in place; return the report."""
    report = VerificationReport(target=str(path), kind="bag-zip")
    with open(path, "rb") as file:
        source = _ZipSource(file, path.name, report)
        if source.sizes:
            report.checked.append(f"bag '{source.bag_name}' read from the zip without extracting")
            _verify_bag(source, report, Trust(public_key, tuple(tsa_roots)))
    return report


def verify_bag_dir(
    path: Path, *, public_key: Ed25519PublicKey | None = None, tsa_roots: Sequence[bytes] = ()
) -> VerificationReport:
    """Verify an unpacked bag folder; return the report."""
    report = VerificationReport(target=str(path), kind="bag-dir")
    _verify_bag(_DirSource(path, report), report, Trust(public_key, tuple(tsa_roots)))
    return report


def _verify_bag(source: _BagSource, report: VerificationReport, trust: Trust) -> None:
    """Run every bag check on ``source``."""
    if "bagit.txt" not in source.sizes:
        report.problem("bagit.txt", "missing: this is not a BagIt bag")
        return
    _check_bagit_txt(source, report)
    info = _read_bag_info(source, report)
    manifests = _read_manifests(source, report, tag=False)
    if not manifests:
        report.problem("manifest-sha256.txt", "no payload manifest with a SHA-2 algorithm")
    payload = _payload_files(source, report)
    _check_completeness(manifests, payload, report)
    found = _check_payload_digests(source, manifests, payload, report)
    _check_oxum(info, found, report)
    tag_manifests = _read_manifests(source, report, tag=True)
    _check_tag_manifests(source, tag_manifests, report)
    proven = _verify_bag_custody(source, payload, report, trust)
    manifest_bytes = _read_small(source, payload.get(MANIFEST_PATH), report)
    check_bundle_binding(
        found={payload[key]: value for key, value in found.items()},
        manifest_bytes=manifest_bytes,
        proven=proven,
        bag_info=info,
        report=report,
    )


def _read_small(source: _BagSource, path: str | None, report: VerificationReport) -> bytes | None:
    """Return a small payload file's bytes, or None if it is absent or unreadable (reported)."""
    if path is None:
        return None
    try:
        return source.read(path)
    except _UnreadableError as exc:
        report.problem(path, f"cannot read: {exc}")
        return None


def _check_bagit_txt(source: _BagSource, report: VerificationReport) -> None:
    """Check that bagit.txt declares a BagIt version and UTF-8 tag files."""
    fields = _parse_tag_file(source, "bagit.txt", report)
    if "BagIt-Version" not in fields:
        report.problem("bagit.txt", "no BagIt-Version declared")
    encoding = fields.get("Tag-File-Character-Encoding", "")
    if encoding.upper().replace("_", "-") not in ("UTF-8", "UTF8"):
        report.problem("bagit.txt", "tag files must be declared UTF-8", "UTF-8", encoding or None)


def _parse_tag_file(source: _BagSource, name: str, report: VerificationReport) -> dict[str, str]:
    """Parse a "Label: value" tag file (continuation lines start with whitespace); first value wins."""
    try:
        text = source.read(name).decode("utf-8")
    except (_UnreadableError, UnicodeDecodeError) as exc:
        report.problem(name, f"cannot read: {exc}")
        return {}
    fields: dict[str, str] = {}
    label = None
    for line in _LINE_BREAK_RE.split(text.removeprefix("\ufeff")):
        if line[:1] in (" ", "\t") and label is not None:
            fields[label] += " " + line.strip()
        elif ":" in line:
            label, value = (part.strip() for part in line.split(":", 1))
            if label in fields:
                label = None  # repeated labels (allowed in bag-info) keep their first value here
                continue
            fields[label] = value
        elif line.strip():
            report.problem(name, f"line is not 'Label: value': {line[:80]!r}")
    return fields


def _read_bag_info(source: _BagSource, report: VerificationReport) -> dict[str, str]:
    """Return bag-info.txt fields, or none if the optional file is absent."""
    if "bag-info.txt" not in source.sizes:
        report.notes.append("bag-info.txt is absent (optional in RFC 8493)")
        return {}
    return _parse_tag_file(source, "bag-info.txt", report)


#: algorithm -> NFC path -> (path as written, hex digest)
_Manifests = dict[str, dict[str, tuple[str, str]]]


def _read_manifests(source: _BagSource, report: VerificationReport, *, tag: bool) -> _Manifests:
    """Parse the payload (or tag) manifests of every supported algorithm."""
    manifests: _Manifests = {}
    for name in sorted(source.sizes):
        match = _MANIFEST_RE.fullmatch(name)
        if not match or bool(match[1]) != tag:
            continue
        algorithm = match[2]
        if algorithm not in _ALGORITHMS:
            report.notes.append(f"{name}: algorithm {algorithm} not checked (SHA-2 manifests are)")
            continue
        manifests[algorithm] = _parse_manifest(source, name, algorithm, report, tag=tag)
    return manifests


def _parse_manifest(
    source: _BagSource, name: str, algorithm: str, report: VerificationReport, *, tag: bool
) -> dict[str, tuple[str, str]]:
    """Parse one manifest's "<hex> <path>" lines, reporting malformed, unsafe or repeated ones."""
    try:
        text = source.read(name).decode("utf-8")
    except (_UnreadableError, UnicodeDecodeError) as exc:
        report.problem(name, f"cannot read: {exc}")
        return {}
    size = hashlib.new(algorithm).digest_size * 2
    entries: dict[str, tuple[str, str]] = {}
    for number, line in enumerate(_LINE_BREAK_RE.split(text), 1):
        if not line.strip():
            continue
        match = _MANIFEST_LINE_RE.fullmatch(line.strip(" \t"))
        if not match or len(match[1]) != size:
            report.problem(f"{name} line {number}", "not '<checksum> <path>'", found=line[:120])
            continue
        path = _decode_manifest_path(match[2])
        reason = _unsafe_reason(path)
        if reason:
            report.problem(f"{name} line {number}", f"unsafe path: {reason}", found=path[:120])
        elif not tag and not path.startswith("data/"):
            report.problem(f"{name} line {number}", "payload manifest lists a file outside data/", found=path)
        elif _nfc(path) in entries:
            report.problem(f"{name} line {number}", f"{path} is listed twice")
        else:
            entries[_nfc(path)] = (path, match[1].lower())
    return entries


def _payload_files(source: _BagSource, report: VerificationReport) -> dict[str, str]:
    """Return payload files as NFC path -> path as stored, reporting names that collide."""
    payload: dict[str, str] = {}
    for path in sorted(source.sizes):
        if path.startswith("data/"):
            key = _nfc(path)
            if key in payload:
                report.problem(
                    path, "two files with the same name after Unicode normalisation", found=payload[key]
                )
            payload[key] = path
    return payload


def _check_completeness(manifests: _Manifests, payload: dict[str, str], report: VerificationReport) -> None:
    """Report payload files missing from a manifest and manifest entries with no file."""
    for algorithm, entries in manifests.items():
        manifest = f"manifest-{algorithm}.txt"
        for key, (listed, _) in entries.items():
            if key not in payload:
                report.problem(listed, f"listed in {manifest} but missing from the bag")
        for key, path in payload.items():
            if key not in entries:
                report.problem(path, f"payload file not listed in {manifest}")


def _check_payload_digests(
    source: _BagSource, manifests: _Manifests, payload: dict[str, str], report: VerificationReport
) -> dict[str, tuple[str, int]]:
    """Hash every payload file once with every manifest algorithm (and SHA-256 always, for the binding).

    Return bag path -> (SHA-256 hex, size) of the bytes actually held, whatever the manifests say.
    """
    algorithms = sorted(manifests)
    found_by_path: dict[str, tuple[str, int]] = {}
    matched = 0
    for key, path in sorted(payload.items()):
        try:
            found, size = _hash_chunks(source.chunks(path), sorted({*algorithms, "sha256"}))
        except _UnreadableError as exc:
            report.problem(path, f"cannot read: {exc}")
            continue
        found_by_path[key] = (found["sha256"], size)
        wrong = [
            (algorithm, listed[1])
            for algorithm in algorithms
            if (listed := manifests[algorithm].get(key)) is not None and listed[1] != found[algorithm]
        ]
        if wrong:
            # One problem per file; expected vs found shown for the first algorithm (SHA-256 if listed).
            algorithm, expected = wrong[0]
            listed_in = ", ".join(f"manifest-{a}.txt" for a, _ in wrong)
            report.problem(
                path, f"content does not match {listed_in} ({algorithm})", expected, found[algorithm]
            )
        else:
            matched += 1
    if algorithms:
        octets = sum(size for _, size in found_by_path.values())
        report.checked.append(
            f"{matched} of {len(payload)} payload files ({octets} bytes) match manifest-"
            + "/".join(algorithms)
        )
    return found_by_path


def _check_oxum(info: dict[str, str], found: dict[str, tuple[str, int]], report: VerificationReport) -> None:
    """Compare Payload-Oxum ("<octets>.<files>") with the payload actually present."""
    octets, count = sum(size for _, size in found.values()), len(found)
    oxum = info.get("Payload-Oxum")
    if oxum is None:
        report.notes.append("bag-info.txt has no Payload-Oxum")
        return
    if oxum != f"{octets}.{count}":
        report.problem("bag-info.txt", "Payload-Oxum does not match the payload", oxum, f"{octets}.{count}")
    else:
        report.checked.append(f"Payload-Oxum {oxum} matches")


def _check_tag_manifests(source: _BagSource, manifests: _Manifests, report: VerificationReport) -> None:
    """Check every tag-manifest line against the tag file it names."""
    checked = 0
    for algorithm, entries in sorted(manifests.items()):
        for key, (listed, expected) in sorted(entries.items()):
            matches = [p for p in source.sizes if _nfc(p) == key]
            if not matches:
                report.problem(listed, f"listed in tagmanifest-{algorithm}.txt but missing from the bag")
                continue
            try:
                found, _ = _hash_chunks(source.chunks(matches[0]), [algorithm])
            except _UnreadableError as exc:
                report.problem(listed, f"cannot read: {exc}")
                continue
            if found[algorithm] != expected:
                report.problem(
                    listed,
                    f"{algorithm} does not match tagmanifest-{algorithm}.txt",
                    expected,
                    found[algorithm],
                )
            checked += 1
    if manifests:
        report.checked.append(f"{checked} tag-manifest entries checked")


# --------------------------------------------------------------------------- custody


def _verify_bag_custody(
    source: _BagSource,
    payload: dict[str, str],
    report: VerificationReport,
    trust: Trust,
) -> list[ProvenEvent] | None:
    """Check data/custody/ (signed tree head, events, proofs, time-stamp); return the proven events."""
    names = {key[len(_CUSTODY) :]: path for key, path in payload.items() if key.startswith(_CUSTODY)}
    if not names:
        report.problem(_CUSTODY, "missing: no custody records, so nothing in this bag is proven")
        return None
    signed = _verify_signed_head(source, names, _CUSTODY, report, trust)
    if signed is None:
        return None
    for required in ("events.jsonl", "proofs.json"):
        if required not in names:
            report.problem(_CUSTODY + required, "missing, so the custody events cannot be checked")
            return None
    proofs = _read_proofs(source, names["proofs.json"], report)
    if proofs is None:
        return None
    _check_hand_files(source, names, signed, proofs, report)
    proven = _check_events(source, names["events.jsonl"], proofs, signed, report)
    # Events proven under a head whose signature failed are proven against nothing anyone vouched for.
    if signed.key_id not in report.signed_by:
        return None
    if EARLIER_HEADS in names:
        key = trust.public_key or load_public_key(
            source.read(names["public-key.pem"])
        )  # it verified the head
        data = _read_small(source, names[EARLIER_HEADS], report) or b""
        check_earlier_heads(
            data, latest=signed, key=key, tsa_roots=trust.tsa_roots, proven=proven, report=report
        )
    return proven


def _check_hand_files(
    source: _BagSource,
    names: Mapping[str, str],
    signed: SignedTreeHead,
    proofs: Mapping[int, _Proof],
    report: VerificationReport,
) -> None:
    """Require the hand-check copies (tree-head.txt/.sig, proofs.txt), when present, to say what the JSON says."""
    expected = {
        "tree-head.txt": signed.head.signed_bytes(),
        "tree-head.sig": signed.signature,
        "proofs.txt": proofs_text(dict(sorted(proofs.items()))),
    }
    for name in expected.keys() & names.keys():
        try:
            held = source.read(names[name])
        except _UnreadableError as exc:
            report.problem(_CUSTODY + name, f"cannot read: {exc}")
            continue
        if held != expected[name]:
            report.problem(_CUSTODY + name, "differs from what tree-head.json / proofs.json say (altered)")


def _verify_signed_head(
    source: _BagSource,
    names: Mapping[str, str],
    prefix: str,
    report: VerificationReport,
    trust: Trust,
) -> SignedTreeHead | None:
    """Parse and check tree-head.json (key, key id, signature) and tree-head.tsr; return the head."""
    head_item = prefix + "tree-head.json"
    if "tree-head.json" not in names:
        report.problem(head_item, "missing: custody files without a signed tree head prove nothing")
        return None
    try:
        signed = SignedTreeHead.from_json(source.read(names["tree-head.json"]))
    except (_UnreadableError, TreeHeadFormatError) as exc:
        report.problem(head_item, f"cannot read the tree head: {exc}")
        return None
    key = _choose_key(source, names, prefix, report, trust.public_key)
    if key is not None:
        try:
            signed.verify(key)
        except TreeHeadSignatureError as exc:
            report.problem(head_item, f"signature check failed: {exc}")
        else:
            head = signed.head
            report.signed_by.add(signed.key_id)
            report.checked.append(
                f"tree head signed by key {signed.key_id}: {head.tree_size} records, "
                f"root {head.root_hash.hex()}, {head.timestamp}"
            )
    if "tree-head.tsr" in names:
        _check_tree_head_timestamp(
            source, names["tree-head.tsr"], prefix + "tree-head.tsr", signed, report, trust
        )
    else:
        report.notes.append("no RFC 3161 time-stamp token for the tree head (tree-head.tsr)")
    return signed


def _choose_key(
    source: _BagSource,
    names: Mapping[str, str],
    prefix: str,
    report: VerificationReport,
    public_key: Ed25519PublicKey | None,
) -> Ed25519PublicKey | None:
    """Return the key to check the signature with: the caller's, else the one shipped with the files."""
    item = prefix + "public-key.pem"
    shipped = None
    if "public-key.pem" in names:
        try:
            shipped = load_public_key(source.read(names["public-key.pem"]))
        except (_UnreadableError, KeyFormatError) as exc:
            report.problem(item, f"cannot read the public key: {exc}")
    if public_key is not None:
        if shipped is not None and key_id(shipped) != key_id(public_key):
            report.problem(
                item, "differs from the public key you supplied", key_id(public_key), key_id(shipped)
            )
        return public_key
    if shipped is None:
        if "public-key.pem" not in names:
            report.problem(item, "missing, and no public key was supplied")
        return None
    report.notes.append(
        f"signature checked with the key shipped in the files (key id {key_id(shipped)}); "
        "compare it with the organisation's published key, or pass --public-key"
    )
    return shipped


def _check_tree_head_timestamp(
    source: _BagSource, path: str, item: str, signed: SignedTreeHead, report: VerificationReport, trust: Trust
) -> None:
    """Verify the RFC 3161 token over SHA-256 of the tree head's signed bytes (and its chain, given roots)."""
    digest = hashlib.sha256(signed.head.signed_bytes()).digest()
    try:
        data = source.read(path)
        if trust.tsa_roots:
            chain = verify_token_chain(data, digest, trust.tsa_roots)
            report.checked.append(
                f"RFC 3161 time-stamp over the tree head: {chain.gen_time.isoformat()} by {chain.tsa_subject}, "
                f"certificate chain valid at that time up to the TSA root you supplied "
                f"({' <- '.join(reversed(chain.chain_subjects))}; root sha256 {chain.root_certificate_sha256})"
            )
            return
        info = verify_timestamp_token(data, digest)
    except (_UnreadableError, TimestampError) as exc:
        report.problem(item, f"time-stamp token check failed: {exc}")
        return
    report.checked.append(
        f"RFC 3161 time-stamp over the tree head: {info.gen_time.isoformat()} by {info.signer_subject} "
        f"(TSA certificate sha256 {info.signer_certificate_sha256}, serial {info.serial_number})"
    )
    report.notes.append(
        "the TSA's certificate chain was NOT checked: pass --tsa-ca with the TSA's CA certificate to check it"
    )


@dataclass(frozen=True, slots=True)
class _Proof:
    """One inclusion proof from proofs.json."""

    tree_size: int
    leaf_hash: bytes
    audit_path: list[bytes]


def _read_proofs(source: _BagSource, path: str, report: VerificationReport) -> dict[int, _Proof] | None:
    """Parse proofs.json into leaf index -> proof, reporting malformed entries."""
    try:
        document = load_json(source.read(path))
        items = document["inclusion_proofs"]
        if not isinstance(items, list):
            raise TypeError("inclusion_proofs is not a list")
    except (_UnreadableError, ValueError, KeyError, TypeError) as exc:
        report.problem(path, f"cannot read the proofs: {exc}")
        return None
    proofs: dict[int, _Proof] = {}
    for position, item in enumerate(items):
        try:
            index, proof = _parse_proof(item)
        except (ValueError, KeyError, TypeError) as exc:
            report.problem(f"{path} proof #{position}", f"malformed proof: {exc}")
            continue
        if index in proofs:
            report.problem(f"leaf {index}", f"{path} has two proofs for this leaf")
        proofs[index] = proof
    return proofs


def _hex32(value: Any, name: str) -> bytes:
    """Return the 32 bytes of a 64-digit lowercase hex string."""
    if not isinstance(value, str) or not _HEX64_RE.fullmatch(value):
        raise ValueError(f"{name} is not 64 lowercase hex digits")
    return bytes.fromhex(value)


def _integer(value: Any, name: str) -> int:
    """Return a JSON integer (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} is not a non-negative integer")
    return value


def _parse_proof(item: Any) -> tuple[int, _Proof]:
    """Parse one proofs.json entry."""
    path = item["audit_path"]
    if not isinstance(path, list):
        raise TypeError("audit_path is not a list")
    return _integer(item["leaf_index"], "leaf_index"), _Proof(
        tree_size=_integer(item["tree_size"], "tree_size"),
        leaf_hash=_hex32(item["leaf_hash"], "leaf_hash"),
        audit_path=[_hex32(h, "audit_path entry") for h in path],
    )


@dataclass(frozen=True, slots=True)
class _Event:
    """A parsed events.jsonl / ledger.jsonl line."""

    index: int
    leaf: bytes
    leaf_hash: bytes
    shown: dict[str, Any]


def _parse_event(line: bytes, item: str, report: VerificationReport) -> _Event | None:
    """Parse and check one event line: leaf hash and shown fields; report and return None if broken."""
    try:
        event = load_json(line)
        if not isinstance(event, dict):
            raise TypeError("line is not a JSON object")
        index = _integer(event.get("leaf_index"), "leaf_index")
        leaf = base64.b64decode(event["leaf"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        report.problem(item, f"malformed event line: {exc}")
        return None
    computed = leaf_hash(leaf)
    name = f"leaf {index}"
    if "leaf_hash" in event and event["leaf_hash"] != computed.hex():
        report.problem(
            name, "leaf bytes do not hash to the recorded leaf_hash", str(event["leaf_hash"]), computed.hex()
        )
    shown = {k: v for k, v in event.items() if k not in RESERVED_EVENT_KEYS}
    if shown:
        _check_shown_fields(shown, leaf, name, report)
    return _Event(index, leaf, computed, shown)


def _check_shown_fields(shown: dict[str, Any], leaf: bytes, name: str, report: VerificationReport) -> None:
    """Check that the record fields shown on an event line are exactly the hashed record's."""
    # Fast path: a leaf that is byte for byte the compact encoding of the shown fields holds
    # exactly those fields, so there is nothing to parse.
    if _COMPACT_ENCODER.encode(shown).encode("utf-8") == leaf:
        return
    record = _json_object_or_none(leaf)
    if record is None:
        report.problem(name, "the line shows record fields, but the hashed leaf is not a JSON object")
        return
    if _comparable(shown) == _comparable(record):
        return  # the common case, settled with two encodings; below, find which fields differ
    for key in sorted(shown.keys() | record.keys()):
        expected = _comparable(record[key]) if key in record else None
        found = _comparable(shown[key]) if key in shown else None
        if expected != found:
            report.problem(name, f"shown field {key!r} differs from the hashed record", expected, found)


def _check_events(
    source: _BagSource,
    path: str,
    proofs: dict[int, _Proof],
    signed: SignedTreeHead,
    report: VerificationReport,
) -> list[ProvenEvent]:
    """Check each event's leaf against its inclusion proof and the signed root; return those proven."""
    head = signed.head
    seen: set[int] = set()
    proven: list[ProvenEvent] = []
    try:
        for number, line in enumerate(_lines(source.chunks(path)), 1):
            if not line.strip():
                continue
            problems_before = len(report.problems)
            event = _parse_event(line, f"{path} line {number}", report)
            if event is None:
                continue
            if event.index in seen:
                report.problem(f"leaf {event.index}", "appears twice in events.jsonl")
            seen.add(event.index)
            _check_inclusion(event, proofs.get(event.index), head.tree_size, head.root_hash, report)
            record = _json_object_or_none(event.leaf)
            if len(report.problems) == problems_before and record is not None:
                proven.append(ProvenEvent(event.index, record))
    except _UnreadableError as exc:
        report.problem(path, f"cannot read: {exc}")
    for index in sorted(proofs.keys() - seen):
        report.notes.append(f"leaf {index}: proofs.json has a proof but events.jsonl has no such event")
    report.checked.append(
        f"{len(proven)} of {len(seen)} custody events proven included under the signed root"
    )
    return proven


def _check_inclusion(
    event: _Event, proof: _Proof | None, tree_size: int, root: bytes, report: VerificationReport
) -> None:
    """Check one event against its proof and the signed tree head."""
    name = f"leaf {event.index}"
    if event.index >= tree_size:
        report.problem(name, "leaf index is beyond the signed tree", f"< {tree_size}", str(event.index))
        return
    if proof is None:
        report.problem(name, "no inclusion proof in proofs.json")
        return
    if proof.tree_size != tree_size:
        report.problem(
            name, "proof is for another tree size than the signed head", str(tree_size), str(proof.tree_size)
        )
        return
    if proof.leaf_hash != event.leaf_hash:
        # Tell apart an altered event (the proof still holds for the original) from a bad proof.
        try:
            verify_inclusion(proof.leaf_hash, event.index, tree_size, proof.audit_path, root)
            why = "the event's leaf bytes were altered: the proof holds for the original leaf"
        except ProofError:
            why = "leaf bytes do not match the proven leaf hash, and the proof does not verify either"
        report.problem(name, why, proof.leaf_hash.hex(), event.leaf_hash.hex())
        return
    try:
        verify_inclusion(event.leaf_hash, event.index, tree_size, proof.audit_path, root)
    except ProofError as exc:
        report.problem(name, f"inclusion proof fails: {exc.reason}")


# --------------------------------------------------------------------------- store copies


def verify_store_dir(
    path: Path,
    *,
    public_key: Ed25519PublicKey | None = None,
    tsa_roots: Sequence[bytes] = (),
    progress: Callable[[int, int], None] | None = None,
) -> VerificationReport:
    """Verify a copy of the blob store (and its custody ledger, if present); return the report."""
    report = VerificationReport(target=str(path), kind="store")
    blobs = _check_blobs(path, report, progress)
    temporary = path / "tmp"
    if temporary.is_dir():
        leftovers = sum(1 for _ in temporary.iterdir())
        if leftovers:
            report.notes.append(f"{leftovers} file(s) in tmp/ (uploads in progress) were not checked")
    custody = path / "custody"
    if not custody.is_dir():
        if blobs:
            report.problem("custody/", "missing: no signed ledger, so the blobs are bound to nothing")
        else:
            report.notes.append("no custody/ folder: the custody ledger was not checked")
        return report
    trust = Trust(public_key, tuple(tsa_roots))
    objects = _verify_store_ledger(_DirSource(custody, report, "custody/"), report, trust)
    if objects is not None:  # else the ledger's failure is reported: no blob is bound
        check_blobs_bound(blobs=blobs, objects=objects, report=report)
    return report


def _check_blobs(
    root: Path, report: VerificationReport, progress: Callable[[int, int], None] | None
) -> list[str]:
    """Re-hash every blob under sha256/ and compare with its name; return the hex names of the blobs."""
    blob_root = root / "sha256"
    if not blob_root.is_dir():
        report.notes.append("no sha256/ folder: no blobs to check")
        return []
    source = _DirSource(blob_root, report, "sha256/")
    names = sorted(source.sizes)
    good = 0
    held: list[str] = []
    for done, rel in enumerate(names, 1):
        item = f"sha256/{rel}"
        match = _BLOB_RE.fullmatch(item)
        if not match or match[3][:2] != match[1] or match[3][2:4] != match[2]:
            report.problem(item, "unexpected file in the blob store (not sha256/ab/cd/<hex>)")
        else:
            held.append(match[3])
            try:
                found, _ = _hash_chunks(source.chunks(rel), ["sha256"])
            except _UnreadableError as exc:
                report.problem(item, f"cannot read: {exc}")
            else:
                if found["sha256"] != match[3]:
                    report.problem(
                        item, "blob content does not match its SHA-256 name", match[3], found["sha256"]
                    )
                else:
                    good += 1
        if progress is not None:
            progress(done, len(names))
    report.checked.append(f"{good} of {len(names)} blobs hash to their names")
    return held


def _verify_store_ledger(source: _DirSource, report: VerificationReport, trust: Trust) -> set[str] | None:
    """Rebuild the Merkle root from every ledger record and compare it with the signed tree head.

    Return the objects (``sha256:<hex>``) of the received/derived records under the signed root, or None
    when the root could not be rebuilt and confirmed (then no record is proven).
    """
    names = {name: name for name in source.sizes}
    signed = _verify_signed_head(source, names, "custody/", report, trust)
    if signed is None:
        return None
    if "ledger.jsonl" not in names:
        report.problem("custody/ledger.jsonl", "missing, so the signed root cannot be rebuilt")
        return None
    if signed.key_id not in report.signed_by:
        return None  # the signature failed (reported): the ledger's records are vouched for by no one
    tree_size = signed.head.tree_size
    counted = _LedgerHashes(source, report)
    try:
        root = root_from_leaf_hashes(itertools.islice(counted, tree_size))
        objects = set(counted.file_objects)
        extra = sum(1 for _ in counted)
    except _UnreadableError as exc:
        report.problem("custody/ledger.jsonl", f"cannot read: {exc}")
        return None
    if extra:
        report.notes.append(
            f"{extra} ledger record(s) after the signed tree head are not yet covered by a signature"
        )
    if counted.count - extra < tree_size:
        report.problem(
            "custody/ledger.jsonl",
            "fewer records than the signed tree head covers",
            str(tree_size),
            str(counted.count),
        )
        return None
    if root != signed.head.root_hash:
        report.problem(
            "custody/ledger.jsonl",
            f"Merkle root of the first {tree_size} records differs from the signed root",
            signed.head.root_hash.hex(),
            root.hex(),
        )
        return None
    report.checked.append(f"Merkle root of the first {tree_size} ledger records equals the signed root")
    return objects


class _LedgerHashes:
    """Iterate the leaf hashes of ledger.jsonl in order, checking each line; count the records."""

    def __init__(self, source: _DirSource, report: VerificationReport) -> None:
        """Read ledger.jsonl from the custody folder, reporting into ``report``."""
        self._lines = _lines(source.chunks("ledger.jsonl"))
        self._report = report
        self.count = 0
        #: Objects of the received/derived records read so far (the files the ledger vouches for).
        self.file_objects: list[str] = []

    def __iter__(self) -> Iterator[bytes]:
        """Return the iterator itself."""
        return self

    def __next__(self) -> bytes:
        """Return the next record's leaf hash (a zero placeholder for a broken line)."""
        line = next(self._lines)
        while not line.strip():
            line = next(self._lines)
        position = self.count
        self.count += 1
        event = _parse_event(line, f"custody/ledger.jsonl record {position}", self._report)
        if event is None:
            # Keep later records at their positions; the root then cannot match, as it should not.
            return b"\x00" * HASH_SIZE
        if event.index != position:
            self._report.problem(
                f"leaf {event.index}",
                "ledger record out of order",
                f"leaf_index {position}",
                f"leaf_index {event.index}",
            )
        fields = event.shown or _json_object_or_none(event.leaf) or {}
        if fields.get("action") in FILE_ACTIONS and isinstance(fields.get("object"), str):
            self.file_objects.append(fields["object"])
        return event.leaf_hash


# --------------------------------------------------------------------------- dispatch


def verify_path(
    path: Path,
    *,
    public_key: Ed25519PublicKey | None = None,
    tsa_roots: Sequence[bytes] = (),
    progress: Callable[[int, int], None] | None = None,
) -> VerificationReport:
    """Verify a bag zip, a bag folder or a store copy, whichever ``path`` is."""
    if path.is_file():
        return verify_bag_zip(path, public_key=public_key, tsa_roots=tsa_roots)
    if not path.is_dir():
        raise VerificationInputError(f"{path}: no such file or folder")
    if (path / "bagit.txt").is_file():
        return verify_bag_dir(path, public_key=public_key, tsa_roots=tsa_roots)
    if (path / "sha256").is_dir() or (path / "custody").is_dir():
        return verify_store_dir(path, public_key=public_key, tsa_roots=tsa_roots, progress=progress)
    raise VerificationInputError(
        f"{path}: neither a bag (no bagit.txt) nor a store copy (no sha256/ or custody/)"
    )
