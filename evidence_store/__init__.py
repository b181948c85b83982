"""Precedent's framework-free evidence integrity library.

Digests, content-addressed write-once blob stores, and (from sibling modules) the custody log's
Merkle tree, signed tree heads, timestamps and BagIt export. Standard library and
``cryptography`` only; boto3 is imported only when ``S3BlobStore`` is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evidence_store.bag import BagError, BagWriter, PayloadDigestMismatch, UnsafePathError
from evidence_store.blobstore import (
    BlobStore,
    BlobWriter,
    LocalBlobStore,
    StoredBlob,
    VerifyResult,
    VerifyStatus,
)
from evidence_store.canonical import CanonicalEncodingError, canonical_json
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
from evidence_store.merkle import MerkleTree, ProofError, leaf_hash, verify_consistency, verify_inclusion
from evidence_store.treehead import (
    KeyFormatError,
    SignedTreeHead,
    TreeHead,
    TreeHeadFormatError,
    TreeHeadSignatureError,
    key_id,
    load_or_create_signing_key,
    load_public_key,
)
from evidence_store.tsp import (
    TimestampError,
    TimestampFormatError,
    TimestampRejectedError,
    TimestampUnavailableError,
    TimestampVerificationError,
    request_timestamp,
    verify_timestamp_token,
)
from evidence_store.verify import VerificationInputError, VerificationReport, verify_path

if TYPE_CHECKING:
    from evidence_store.s3 import S3BlobStore

#: The library's version; the stand-alone distribution ``precedent-evidence`` takes its version from here.
__version__ = "0.1.0"

__all__ = [
    "BagError",
    "BagWriter",
    "BlobCorrupted",
    "BlobNotFound",
    "BlobStore",
    "BlobTooLarge",
    "BlobWriter",
    "CanonicalEncodingError",
    "Digest",
    "DigestMismatch",
    "EvidenceStoreError",
    "IntegrityError",
    "InvalidDigest",
    "InvalidRange",
    "KeyFormatError",
    "LocalBlobStore",
    "MerkleTree",
    "PayloadDigestMismatch",
    "ProofError",
    "S3BlobStore",
    "SignedTreeHead",
    "StorageError",
    "StoredBlob",
    "TimestampError",
    "TimestampFormatError",
    "TimestampRejectedError",
    "TimestampUnavailableError",
    "TimestampVerificationError",
    "TreeHead",
    "TreeHeadFormatError",
    "TreeHeadSignatureError",
    "UnsafePathError",
    "VerificationInputError",
    "VerificationReport",
    "VerifyResult",
    "VerifyStatus",
    "WriterClosed",
    "canonical_json",
    "hash_file",
    "hash_stream",
    "key_id",
    "leaf_hash",
    "load_or_create_signing_key",
    "load_public_key",
    "request_timestamp",
    "verify_consistency",
    "verify_inclusion",
    "verify_path",
    "verify_timestamp_token",
]


def __getattr__(name: str) -> Any:
    """Import S3BlobStore on first use, so the package works without boto3 (PEP 562)."""
    if name == "S3BlobStore":
        from evidence_store.s3 import S3BlobStore

        return S3BlobStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
