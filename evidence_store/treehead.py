"""Signed tree heads for the custody ledger: Ed25519 (RFC 8032) over a fixed text form.

A tree head states "the custody ledger had ``tree_size`` records, their RFC 6962 Merkle root was
``root_hash``, at ``timestamp``". The exact bytes that are signed, and that an RFC 3161 time-stamp
token covers (as SHA-256 of these bytes), are ASCII text with four lines, each ended by one LF::

    precedent-tree-head-v1
    <tree_size>
    <root_hash>
    <timestamp>

- ``tree_size``: the decimal number of leaves, no sign, no leading zeros (``0`` for an empty tree);
- ``root_hash``: the 32-byte Merkle root as 64 lowercase hex digits;
- ``timestamp``: RFC 3339 UTC with exactly three fractional digits and ``Z``,
  ``YYYY-MM-DDTHH:MM:SS.mmmZ``.

To check one by hand::

    printf 'precedent-tree-head-v1\\n%s\\n%s\\n%s\\n' "$SIZE" "$ROOT" "$TS" > head.txt
    openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin -in head.txt -sigfile head.sig

(``head.sig`` holds the 64 raw signature bytes, e.g. ``xxd -r -p`` of the hex signature.)

The key id is the lowercase hex SHA-256 of the raw 32-byte Ed25519 public key. Keys are stored
as unencrypted PKCS #8 PEM (private) and SubjectPublicKeyInfo PEM (public).

``SignedTreeHead.to_json()`` writes the ``tree-head.json`` file the offline verifier reads::

    {"key_id":"<hex>","root_hash":"<hex>","signature":"<128 hex>","timestamp":"...Z","tree_size":N}

Errors (all ``EvidenceStoreError``)::

    TreeHeadFormatError           malformed tree head or tree-head.json     (also ValueError)
    KeyFormatError                a key file that is not an Ed25519 key      (also ValueError)
    TreeHeadSignatureError        signature or key id does not verify       (IntegrityError)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from evidence_store.canonical import canonical_json
from evidence_store.errors import EvidenceStoreError, IntegrityError

__all__ = [
    "TREE_HEAD_PREFIX",
    "KeyFormatError",
    "SignedTreeHead",
    "TreeHead",
    "TreeHeadFormatError",
    "TreeHeadSignatureError",
    "format_timestamp",
    "key_id",
    "load_or_create_signing_key",
    "load_public_key",
    "public_key_pem",
    "sign_tree_head",
    "tree_head_signed_bytes",
    "verify_tree_head",
]

#: First line of the signed bytes; names the format so a signature can never be replayed as
#: a signature over some other kind of message.
TREE_HEAD_PREFIX = b"precedent-tree-head-v1\n"

_TIMESTAMP_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_HEX128_RE = re.compile(r"[0-9a-f]{128}")
_SIGNATURE_SIZE = 64


class TreeHeadFormatError(EvidenceStoreError, ValueError):
    """A tree head, or its JSON file, that is not well formed."""


class KeyFormatError(EvidenceStoreError, ValueError):
    """Key material that is not an Ed25519 key in the expected PEM form."""


class TreeHeadSignatureError(IntegrityError):
    """A tree-head signature that does not verify with the given public key."""


def format_timestamp(moment: datetime) -> str:
    """Return ``moment`` as RFC 3339 UTC with millisecond precision, e.g. 2024-05-01T12:00:00.123Z."""
    if moment.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class TreeHead:
    """The size and Merkle root of the custody ledger at a moment (unsigned)."""

    tree_size: int
    root_hash: bytes
    timestamp: str

    def __post_init__(self) -> None:
        """Refuse a negative size, a root that is not 32 bytes, or a timestamp not in canonical form."""
        if isinstance(self.tree_size, bool) or not isinstance(self.tree_size, int) or self.tree_size < 0:
            raise TreeHeadFormatError(f"tree_size must be a non-negative integer, got {self.tree_size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != 32:
            raise TreeHeadFormatError("root_hash must be 32 bytes")
        _check_timestamp(self.timestamp)

    @classmethod
    def now(cls, tree_size: int, root_hash: bytes) -> TreeHead:
        """Build a tree head stamped with the current UTC time."""
        return cls(tree_size, root_hash, format_timestamp(datetime.now(timezone.utc)))

    def signed_bytes(self) -> bytes:
        """Return the exact bytes that are signed and time-stamped (see the module docstring)."""
        return tree_head_signed_bytes(self)


def _check_timestamp(value: object) -> None:
    """Refuse anything but a real UTC instant written as YYYY-MM-DDTHH:MM:SS.mmmZ."""
    if not isinstance(value, str) or not _TIMESTAMP_RE.fullmatch(value):
        raise TreeHeadFormatError(f"timestamp must look like 2024-05-01T12:00:00.000Z, got {value!r:.60}")
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: DTZ007 (the Z suffix is matched literally)
    except ValueError as exc:
        raise TreeHeadFormatError(f"timestamp {value!r} is not a real date and time") from exc


def tree_head_signed_bytes(head: TreeHead) -> bytes:
    """Return b"precedent-tree-head-v1\\n<size>\\n<root hex>\\n<timestamp>\\n"."""
    return TREE_HEAD_PREFIX + f"{head.tree_size}\n{head.root_hash.hex()}\n{head.timestamp}\n".encode("ascii")


def sign_tree_head(head: TreeHead, private_key: Ed25519PrivateKey) -> bytes:
    """Return the 64-byte Ed25519 signature over the tree head's signed bytes."""
    return private_key.sign(tree_head_signed_bytes(head))


def verify_tree_head(head: TreeHead, signature: bytes, public_key: Ed25519PublicKey) -> None:
    """Check the Ed25519 signature over the tree head; raise TreeHeadSignatureError if it fails."""
    if len(signature) != _SIGNATURE_SIZE:
        raise TreeHeadSignatureError(f"an Ed25519 signature has 64 bytes, got {len(signature)}")
    try:
        public_key.verify(signature, tree_head_signed_bytes(head))
    except InvalidSignature:
        raise TreeHeadSignatureError(
            f"signature over tree head (size {head.tree_size}, root {head.root_hash.hex()}, "
            f"{head.timestamp}) does not verify with key {key_id(public_key)}"
        ) from None


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """Return the key id: lowercase hex SHA-256 of the raw 32-byte public key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_pem(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """Return the public key as SubjectPublicKeyInfo PEM."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """Load an Ed25519 public key from SubjectPublicKeyInfo PEM; raise KeyFormatError otherwise."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # A damaged key file can name an unknown algorithm: that is bad input, never a crash.
        raise KeyFormatError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFormatError(f"expected an Ed25519 public key, got {type(key).__name__}")
    return key


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load the Ed25519 key at ``path``, or create it (PKCS #8 PEM, mode 0600) if it does not exist."""
    try:
        return _load_private_key(path.read_bytes(), path)
    except FileNotFoundError:
        pass
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    if _publish_new_file(path, pem):
        return key
    # Another process created the key first: use theirs, never replace it.
    return _load_private_key(path.read_bytes(), path)


def _load_private_key(pem: bytes, path: Path) -> Ed25519PrivateKey:
    """Load an unencrypted Ed25519 private key from PKCS #8 PEM."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError(f"{path}: not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError(f"{path}: expected an Ed25519 private key, got {type(key).__name__}")
    return key


def _publish_new_file(path: Path, content: bytes) -> bool:
    """Write ``content`` to ``path`` atomically with mode 0600; return False if ``path`` already exists."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    # O_EXCL + 0600 from the first byte: the key is never readable by others, even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o600)  # the umask may only narrow; make the mode exact
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        # link() publishes the complete file under its name, and fails instead of replacing a
        # key that exists (rename() would silently overwrite it).
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_directory(path.parent)
    return True


def _fsync_directory(directory: Path) -> None:
    """Flush a directory entry to disk so a new file survives a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A tree head with its Ed25519 signature and the id of the signing key."""

    head: TreeHead
    signature: bytes
    key_id: str

    @classmethod
    def sign(cls, head: TreeHead, private_key: Ed25519PrivateKey) -> SignedTreeHead:
        """Sign ``head`` and record the signing key's id."""
        return cls(head, sign_tree_head(head, private_key), key_id(private_key))

    def verify(self, public_key: Ed25519PublicKey) -> None:
        """Check the key id and the signature; raise TreeHeadSignatureError if either fails."""
        found = key_id(public_key)
        if found != self.key_id:
            raise TreeHeadSignatureError(
                f"tree head names signing key {self.key_id}, but the key given is {found}"
            )
        verify_tree_head(self.head, self.signature, public_key)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object stored as tree-head.json."""
        return {
            "tree_size": self.head.tree_size,
            "root_hash": self.head.root_hash.hex(),
            "timestamp": self.head.timestamp,
            "signature": self.signature.hex(),
            "key_id": self.key_id,
        }

    def to_json(self) -> bytes:
        """Return tree-head.json: canonical JSON and a final LF."""
        return canonical_json(self.to_dict()) + b"\n"

    @classmethod
    def from_dict(cls, data: object) -> SignedTreeHead:
        """Parse the tree-head.json object; raise TreeHeadFormatError naming the bad field."""
        if not isinstance(data, dict):
            raise TreeHeadFormatError("tree head must be a JSON object")
        size = data.get("tree_size")
        if isinstance(size, bool) or not isinstance(size, int):
            raise TreeHeadFormatError(f"tree_size must be an integer, got {size!r:.60}")
        root = _hex_field(data, "root_hash", _HEX64_RE)
        signature = _hex_field(data, "signature", _HEX128_RE)
        kid = data.get("key_id")
        if not isinstance(kid, str) or not _HEX64_RE.fullmatch(kid):
            raise TreeHeadFormatError(f"key_id must be 64 lowercase hex digits, got {kid!r:.80}")
        timestamp = data.get("timestamp")
        if not isinstance(timestamp, str):
            raise TreeHeadFormatError(f"timestamp must be a string, got {timestamp!r:.60}")
        return cls(TreeHead(size, root, timestamp), signature, kid)

    @classmethod
    def from_json(cls, text: bytes | str) -> SignedTreeHead:
        """Parse tree-head.json text."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise TreeHeadFormatError(f"tree head is not valid JSON: {exc}") from exc
        except RecursionError:  # a crafted file of nested brackets fails its check, not the verifier
            raise TreeHeadFormatError("tree head is JSON nested too deeply") from None
        return cls.from_dict(data)


def _hex_field(data: dict[str, Any], name: str, pattern: re.Pattern[str]) -> bytes:
    """Return the bytes of a lowercase-hex field, or raise TreeHeadFormatError."""
    value = data.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise TreeHeadFormatError(f"{name} must be lowercase hex of the right length, got {value!r:.140}")
    return bytes.fromhex(value)
