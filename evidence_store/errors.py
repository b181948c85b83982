"""Errors raised by evidence_store.

Every error derives from one root, so a caller can catch the whole library with one clause.
Classes that describe bad input also derive from the matching built-in (``ValueError``,
``LookupError``), so generic code still does the right thing.

Error hierarchy::

    EvidenceStoreError            root of everything raised on purpose by evidence_store
    ├── InvalidDigest             text is not "sha256:<64 lowercase hex>"        (also ValueError)
    ├── InvalidRange              byte range outside the blob                    (also ValueError)
    ├── BlobNotFound              no blob is stored under the digest             (also LookupError)
    ├── BlobTooLarge              a write passed max_bytes; nothing was stored
    ├── WriterClosed              write/commit on a writer already committed or aborted
    ├── StorageError              the backend failed (disk, S3); the cause is chained
    ├── CanonicalEncodingError    a record cannot be encoded canonically (canonical.py; also ValueError)
    ├── TreeHeadFormatError       a tree head document is malformed (treehead.py; also ValueError)
    ├── KeyFormatError            a key file is not an Ed25519 key (treehead.py; also ValueError)
    ├── BagError                  a bag cannot be written (bag.py)
    │   └── UnsafePathError       a payload path is absolute, climbs out, or has control characters
    ├── VerificationInputError    the verifier cannot read its input (verify.py; also ValueError)
    ├── TimestampError            RFC 3161 time-stamping failed (tsp.py)
    │   ├── TimestampUnavailableError   the TSA could not be reached
    │   ├── TimestampRejectedError      the TSA refused the request
    │   └── TimestampFormatError        the response does not parse (also ValueError)
    └── IntegrityError            bytes are not what they claim to be
        ├── DigestMismatch        received bytes differ from the expected digest; nothing was stored
        │   └── PayloadDigestMismatch   an exhibit streamed into a bag is not what the store promised
        ├── BlobCorrupted         stored bytes no longer match their content address
        ├── ProofError            a Merkle inclusion or consistency proof does not verify (merkle.py)
        ├── TreeHeadSignatureError      a signed tree head's signature is wrong (treehead.py)
        └── TimestampVerificationError  a time-stamp token does not verify (tsp.py; also TimestampError)

New integrity failures belong under ``IntegrityError``; new input or backend failures directly under
``EvidenceStoreError``. Classes live beside the code that raises them; add each one to the tree above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Only for annotations: digest.py imports this module, so a runtime import would be circular.
    from evidence_store.digest import Digest

__all__ = [
    "BlobCorrupted",
    "BlobNotFound",
    "BlobTooLarge",
    "DigestMismatch",
    "EvidenceStoreError",
    "IntegrityError",
    "InvalidDigest",
    "InvalidRange",
    "StorageError",
    "WriterClosed",
]


class EvidenceStoreError(Exception):
    """Root of every error that evidence_store raises on purpose."""


class InvalidDigest(EvidenceStoreError, ValueError):
    """Text or bytes that are not a well-formed SHA-256 digest."""


class InvalidRange(EvidenceStoreError, ValueError):
    """A byte range that does not lie within the blob."""

    def __init__(self, start: int, end: int, size: int) -> None:
        super().__init__(f"range [{start}, {end}) is not within a blob of {size} bytes")
        self.start = start
        self.end = end
        self.size = size


class BlobNotFound(EvidenceStoreError, LookupError):
    """No blob is stored under the digest."""

    def __init__(self, digest: Digest) -> None:
        super().__init__(f"no blob stored under {digest}")
        self.digest = digest


class BlobTooLarge(EvidenceStoreError):
    """A write passed the writer's byte limit; the writer was aborted."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"blob is larger than the limit of {max_bytes} bytes; nothing was stored")
        self.max_bytes = max_bytes


class WriterClosed(EvidenceStoreError):
    """A blob writer was used after it was committed or aborted."""


class StorageError(EvidenceStoreError):
    """The storage backend failed; the original exception is chained as ``__cause__``."""


class IntegrityError(EvidenceStoreError):
    """Bytes are not what they claim to be."""


class DigestMismatch(IntegrityError):
    """Received bytes hash to a different digest than the one expected; nothing was stored."""

    def __init__(self, expected: Digest, found: Digest) -> None:
        super().__init__(f"digest mismatch: expected {expected}, found {found}")
        self.expected = expected
        self.found = found


class BlobCorrupted(IntegrityError):
    """Stored bytes no longer match the digest they are stored under."""

    def __init__(self, digest: Digest, found: Digest | None, reason: str) -> None:
        super().__init__(f"stored blob {digest} is corrupted: {reason}")
        self.digest = digest
        self.found = found
        self.reason = reason
