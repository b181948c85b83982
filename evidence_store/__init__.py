"""Precedent's framework-free evidence integrity library.

Digests, content-addressed write-once blob stores, and (from sibling modules) the custody log's
Merkle tree, signed tree heads, timestamps and BagIt export. Standard library and
``cryptography`` only; boto3 is imported only when ``S3BlobStore`` is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evidence_store.blobstore import (
    BlobStore,
    BlobWriter,
    LocalBlobStore,
    StoredBlob,
    VerifyResult,
    VerifyStatus,
)
from evidence_store.digest import Digest, hash_file, hash_stream
from evidence_store.errors import (
    BlobCorrupted,
    BlobNotFound,
    BlobTooLarge,
    DigestMismatch,
    EvidenceStoreError,
    IntegrityError,
    InvalidDigest,
    InvalidRange,
    StorageError,
    WriterClosed,
)

if TYPE_CHECKING:
    from evidence_store.s3 import S3BlobStore

__all__ = [
    "BlobCorrupted",
    "BlobNotFound",
    "BlobStore",
    "BlobTooLarge",
    "BlobWriter",
    "Digest",
    "DigestMismatch",
    "EvidenceStoreError",
    "IntegrityError",
    "InvalidDigest",
    "InvalidRange",
    "LocalBlobStore",
    "S3BlobStore",
    "StorageError",
    "StoredBlob",
    "VerifyResult",
    "VerifyStatus",
    "WriterClosed",
    "hash_file",
    "hash_stream",
]


def __getattr__(name: str) -> Any:
    """Import S3BlobStore on first use, so the package works without boto3 (PEP 562)."""
    if name == "S3BlobStore":
        from evidence_store.s3 import S3BlobStore

        return S3BlobStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
