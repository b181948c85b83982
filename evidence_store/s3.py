"""Content-addressed, write-once blob store on the S3 API: AWS S3, MinIO, Ceph RGW.

Key layout (``prefix`` is optional; it is normalised to end with "/")::

    <prefix>sha256/ab/cd/<hex>     one object per blob, metadata ``x-amz-meta-sha256: <hex>``
    <prefix>tmp/<uuid>             multipart uploads in progress; removed by commit, abort or
                                   cleanup_temporary()

Write path:

* A body no larger than one part is buffered and hashed, checked against the expected digest,
  then sent with one PutObject straight to its content key, carrying ``x-amz-checksum-sha256``
  so that the server itself refuses bytes that differ from the digest (AWS S3 and MinIO check
  it; moto does not).
* A larger body is uploaded part by part (multipart upload to a temporary key) while it is
  hashed. ``commit`` checks the digest *before* completing the upload (a mismatch aborts it, so
  nothing is left), completes it, copies the object server-side to its content key, and deletes
  the temporary object. Objects over 5 GiB, the CopyObject limit, are copied with UploadPartCopy.

S3 makes each object visible whole or not at all, so a content key never holds a partial blob.
An existing content key is never written again. Each upload in flight buffers one part in memory.

S3 limits followed (AWS "Amazon S3 multipart upload limits"): parts of 5 MiB to 5 GiB, the last
may be smaller; at most 10,000 parts. A writer whose ``max_bytes`` needs more than 10,000 parts
of ``part_size`` uses larger parts; without ``max_bytes`` a blob is limited to 10,000 parts.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import math
import re
import uuid
from collections.abc import Generator, Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from evidence_store.blobstore import BlobStore, BlobWriter, Chunk, _require_digest
from evidence_store.digest import BLOCK_SIZE, Digest
from evidence_store.errors import BlobCorrupted, BlobNotFound, BlobTooLarge, StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

__all__ = ["DEFAULT_PART_SIZE", "S3BlobStore"]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
GiB = 1024 * MiB

#: Part size used unless the store is configured otherwise: 8 MiB, as the AWS CLI uses.
DEFAULT_PART_SIZE = 8 * MiB

_MIN_PART_SIZE = 5 * MiB
_MAX_PART_SIZE = 5 * GiB
_MAX_PARTS = 10_000
#: Largest object a single CopyObject may copy; above it the copy is done in parts.
_MAX_COPY_OBJECT_SIZE = 5 * GiB
#: Part size for UploadPartCopy (raised if 10,000 parts would not cover the object).
_COPY_PART_SIZE = 512 * MiB

_METADATA_KEY = "sha256"
_CONTENT_TYPE = "application/octet-stream"
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_BLOB_KEY_RE = re.compile(r"([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})")
_BACKEND_ERRORS = (BotoCoreError, ClientError)


class S3BlobStore(BlobStore):
    """Blobs as objects under ``<prefix>sha256/ab/cd/<hex>`` in one bucket; see the module docstring."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        client: S3Client | None = None,
    ) -> None:
        if not _MIN_PART_SIZE <= part_size <= _MAX_PART_SIZE:
            raise ValueError(f"S3 part_size must be between 5 MiB and 5 GiB, got {part_size}")
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.part_size = part_size
        self._blob_prefix = f"{self.prefix}sha256/"
        self._tmp_prefix = f"{self.prefix}tmp/"
        self._client = client or _make_client(endpoint_url, region, access_key, secret_key)

    def __repr__(self) -> str:
        """Return ``S3BlobStore('<bucket>', prefix='<prefix>')``."""
        return f"{type(self).__name__}({self.bucket!r}, prefix={self.prefix!r})"

    def begin_write(self, *, max_bytes: int | None = None) -> BlobWriter:
        """Start receiving a blob; nothing is sent to S3 before the first full part."""
        return _S3BlobWriter(self, max_bytes, self._part_size_for(max_bytes))

    def exists(self, digest: Digest) -> bool:
        """Return True if an object is stored under the digest's key."""
        return self._head_size(self._key_for(digest)) is not None

    def size(self, digest: Digest) -> int:
        """Return the object's length; raise BlobNotFound if absent."""
        size = self._head_size(self._key_for(digest))
        if size is None:
            raise BlobNotFound(digest)
        return size

    def iter_digests(self) -> Iterator[Digest]:
        """Yield every object filed under its own digest, ignoring stray keys."""
        paginator = self._client.get_paginator("list_objects_v2")
        with _storage_errors("listing blobs"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._blob_prefix):
                for item in page.get("Contents", []):
                    match = _BLOB_KEY_RE.fullmatch(item["Key"].removeprefix(self._blob_prefix))
                    if match and match[3].startswith(match[1] + match[2]):
                        yield Digest(match[3])

    def cleanup_temporary(self, older_than_seconds: float = 0) -> int:
        """Abort multipart uploads and delete temporary objects older than the given age.

        S3 has no lock a dead process releases, so with several service processes sharing a
        bucket pass an age longer than the slowest upload (e.g. a day), or an upload in flight
        in another process is aborted. Interrupted part copies under ``sha256/`` are aborted too.
        """
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=older_than_seconds)
        removed = 0
        with _storage_errors("cleaning up temporary uploads"):
            for prefix in (self._tmp_prefix, self._blob_prefix):
                removed += self._abort_uploads_before(prefix, cutoff)
            removed += self._delete_temporary_objects_before(cutoff)
        return removed

    def _key_for(self, digest: Digest) -> str:
        """Return the content key of a digest; the only way a key is built from input."""
        hex_digest = _require_digest(digest).hex
        return f"{self._blob_prefix}{hex_digest[:2]}/{hex_digest[2:4]}/{hex_digest}"

    def _new_temporary_key(self) -> str:
        """Return a fresh, unguessable temporary key."""
        return f"{self._tmp_prefix}{uuid.uuid4().hex}"

    def _part_size_for(self, max_bytes: int | None) -> int:
        """Return the part size, raised so that ``max_bytes`` fits in 10,000 parts."""
        if max_bytes is None:
            return self.part_size
        needed = math.ceil(max_bytes / _MAX_PARTS)
        return min(max(self.part_size, math.ceil(needed / MiB) * MiB), _MAX_PART_SIZE)

    def _head_size(self, key: str) -> int | None:
        """Return the object's length, or None if there is no such object."""
        try:
            response = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_not_found(exc):
                return None
            raise StorageError(f"HeadObject {key} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"HeadObject {key} failed: {exc}") from exc
        return response["ContentLength"]

    def _put_blob(self, digest: Digest, body: bytes) -> bool:
        """Upload a small blob to its content key unless present; return True if it was new.

        Bytes already stored are sent all the same, to a scratch key deleted at once: an upload costs the same
        whether the store held its bytes or not, so its duration tells no caller that it did.
        """
        key = self._key_for(digest)
        present = self._head_size(key) is not None
        target = self._new_temporary_key() if present else key
        self._client.put_object(
            Bucket=self.bucket,
            Key=target,
            Body=body,
            ContentType=_CONTENT_TYPE,
            Metadata={_METADATA_KEY: digest.hex},
            ChecksumSHA256=base64.b64encode(digest.bytes).decode("ascii"),
        )
        if present:
            self._client.delete_object(Bucket=self.bucket, Key=target)
        return not present

    def _copy_into_place(self, source_key: str, digest: Digest, size: int) -> bool:
        """Copy a completed temporary object to its content key unless present; return True if it was new.

        As in ``_put_blob``, a duplicate is copied all the same, to a scratch key deleted at once.
        """
        key = self._key_for(digest)
        present = self._head_size(key) is not None
        if present:
            scratch = self._new_temporary_key()
            try:
                self._copy_to(source_key, scratch, digest, size)
            finally:
                self._client.delete_object(Bucket=self.bucket, Key=scratch)
            return False
        self._copy_to(source_key, key, digest, size)
        return True

    def _copy_to(self, source_key: str, key: str, digest: Digest, size: int) -> None:
        """Copy an object server-side, in one request or in parts when it is too large for one."""
        if size <= _MAX_COPY_OBJECT_SIZE:
            self._client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": source_key},
                MetadataDirective="REPLACE",
                ContentType=_CONTENT_TYPE,
                Metadata={_METADATA_KEY: digest.hex},
            )
        else:
            self._copy_in_parts(source_key, key, digest, size)

    def _copy_in_parts(self, source_key: str, key: str, digest: Digest, size: int) -> None:
        """Copy an object too large for CopyObject with UploadPartCopy, aborting on failure."""
        upload_id = self._client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=_CONTENT_TYPE, Metadata={_METADATA_KEY: digest.hex}
        )["UploadId"]
        part_size = max(_COPY_PART_SIZE, math.ceil(size / _MAX_PARTS))
        parts: list[CompletedPartTypeDef] = []
        try:
            for number, first in enumerate(range(0, size, part_size), start=1):
                last = min(first + part_size, size) - 1
                result = self._client.upload_part_copy(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": source_key},
                    CopySourceRange=f"bytes={first}-{last}",
                )
                parts.append({"ETag": result["CopyPartResult"]["ETag"], "PartNumber": number})
            self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self._abort_upload(key, upload_id)
            raise

    def _abort_upload(self, key: str, upload_id: str) -> None:
        """Abort a multipart upload, treating an already finished one as done."""
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise

    def _abort_uploads_before(self, prefix: str, cutoff: datetime) -> int:
        """Abort multipart uploads under ``prefix`` initiated before ``cutoff``; return how many."""
        aborted = 0
        paginator = self._client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                if upload["Initiated"] <= cutoff:
                    self._abort_upload(upload["Key"], upload["UploadId"])
                    aborted += 1
        return aborted

    def _delete_temporary_objects_before(self, cutoff: datetime) -> int:
        """Delete temporary objects last modified before ``cutoff``; return how many."""
        deleted = 0
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._tmp_prefix):
            for item in page.get("Contents", []):
                if item["LastModified"] <= cutoff:
                    self._client.delete_object(Bucket=self.bucket, Key=item["Key"])
                    deleted += 1
        return deleted

    def _read_range(self, digest: Digest, start: int, end: int) -> Generator[bytes, None, None]:
        """Yield bytes [start, end) of the object with one ranged GetObject."""
        if start == end:
            return  # an empty HTTP range cannot be expressed
        key = self._key_for(digest)
        with _storage_errors(f"reading {key}", digest):
            response = self._client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}")
            body = response["Body"]
            try:
                remaining = end - start
                for chunk in body.iter_chunks(BLOCK_SIZE):
                    remaining -= len(chunk)
                    yield chunk
            finally:
                body.close()
        if remaining:
            received = end - start - remaining
            raise BlobCorrupted(digest, None, f"a range of {end - start} bytes returned {received}")


class _S3BlobWriter(BlobWriter):
    """A writer that buffers one part, then streams parts to a multipart upload."""

    _backend_errors = _BACKEND_ERRORS

    def __init__(self, store: S3BlobStore, max_bytes: int | None, part_size: int) -> None:
        super().__init__(max_bytes)
        self._store = store
        self._client = store._client
        self._part_size = part_size
        self._buffer = bytearray()
        self._key = store._new_temporary_key()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._completed = False

    def _write_chunk(self, chunk: Chunk) -> None:
        """Buffer the chunk and upload every full part, keeping at least one byte for the last part."""
        self._buffer += chunk
        while len(self._buffer) > self._part_size:
            with memoryview(self._buffer) as view:
                part = bytes(view[: self._part_size])  # one copy: slicing the bytearray would make two
            del self._buffer[: self._part_size]
            self._upload_part(part)

    def _upload_part(self, part: bytes) -> None:
        """Send one part, starting the multipart upload on the first."""
        if len(self._parts) == _MAX_PARTS:
            raise BlobTooLarge(self._part_size * _MAX_PARTS)
        if self._upload_id is None:
            self._upload_id = self._client.create_multipart_upload(
                Bucket=self._store.bucket, Key=self._key, ContentType=_CONTENT_TYPE
            )["UploadId"]
        number = len(self._parts) + 1
        response = self._client.upload_part(
            Bucket=self._store.bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=part
        )
        self._parts.append({"ETag": response["ETag"], "PartNumber": number})

    def _place(self, digest: Digest) -> bool:
        """Put a small blob directly; otherwise finish the upload, copy it into place, drop the temporary."""
        if self._upload_id is None:
            created = self._store._put_blob(digest, bytes(self._buffer))
            self._buffer = bytearray()
            return created
        self._upload_part(bytes(self._buffer))
        self._buffer = bytearray()
        self._client.complete_multipart_upload(
            Bucket=self._store.bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
        self._completed = True
        created = self._store._copy_into_place(self._key, digest, self.size)
        try:
            self._client.delete_object(Bucket=self._store.bucket, Key=self._key)
        except _BACKEND_ERRORS:
            # The blob is in place; failing the upload now would only invite a pointless retry.
            logger.warning("could not delete temporary object %s; cleanup_temporary() will", self._key)
        return created

    def _discard(self) -> None:
        """Drop the buffer and abort the upload, or delete the temporary object once completed."""
        self._buffer = bytearray()
        if self._upload_id is None:
            return
        if self._completed:
            self._client.delete_object(Bucket=self._store.bucket, Key=self._key)
        else:
            self._store._abort_upload(self._key, self._upload_id)


def _make_client(
    endpoint_url: str | None, region: str | None, access_key: str | None, secret_key: str | None
) -> S3Client:
    """Create an S3 client; path-style addressing for custom endpoints (MinIO, Ceph RGW)."""
    config = Config(
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        retries={"mode": "standard"},
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )


def _is_not_found(exc: ClientError) -> bool:
    """Return True if an S3 error means the key does not exist."""
    return exc.response.get("Error", {}).get("Code") in _NOT_FOUND_CODES


@contextlib.contextmanager
def _storage_errors(action: str, digest: Digest | None = None) -> Iterator[None]:
    """Re-raise S3 failures as BlobNotFound (missing key, when a digest is given) or StorageError."""
    try:
        yield
    except ClientError as exc:
        if digest is not None and _is_not_found(exc):
            raise BlobNotFound(digest) from exc
        raise StorageError(f"{action} failed: {exc}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"{action} failed: {exc}") from exc
