"""What only the S3 store promises, against moto's S3 server over HTTP on loopback.

The behaviour shared with the local store runs against S3 too, in test_blobstore_local.py.
Part sizes are the S3 minimum (5 MiB), so the multipart paths are exercised within real limits.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import evidence_store
from evidence_store import BlobTooLarge, Digest, DigestMismatch
from evidence_store import s3 as s3_module
from evidence_store.s3 import S3BlobStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MiB = 1024 * 1024
PART = 5 * MiB
MULTIPART_BODY_SIZE = 2 * PART + 123  # three parts: two full, one short


@pytest.fixture(scope="module")
def multipart_body() -> bytes:
    """Return random bytes larger than two parts."""
    return os.urandom(MULTIPART_BODY_SIZE)


def sha256(data: bytes) -> Digest:
    """Return the digest of ``data``, computed independently of the store."""
    return Digest(hashlib.sha256(data).hexdigest())


def write_in_chunks(
    store: S3BlobStore, data: bytes, expected: Digest | None = None, max_bytes: int | None = None
) -> Digest:
    """Stream ``data`` through a writer in 1 MiB chunks, as the HTTP layer would, and commit."""
    with store.begin_write(max_bytes=max_bytes) as writer:
        for offset in range(0, len(data), MiB):
            writer.write(data[offset : offset + MiB])
        return writer.commit(expected).digest


def keys(client: S3Client, bucket: str) -> list[str]:
    """Return every object key in the bucket."""
    return [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def open_uploads(client: S3Client, bucket: str) -> list[str]:
    """Return the keys of every multipart upload not completed or aborted."""
    return [upload["Key"] for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def content_key(digest: Digest, prefix: str = "") -> str:
    """Return the content key the layout promises for a digest."""
    return f"{prefix}sha256/{digest.hex[:2]}/{digest.hex[2:4]}/{digest.hex}"


class TestS3Layout:
    def test_small_blob_is_put_straight_to_its_content_key(
        self, s3_store: S3BlobStore, s3_client: S3Client, s3_bucket: str
    ) -> None:
        digest = write_in_chunks(s3_store, b"a short statement")
        assert keys(s3_client, s3_bucket) == [content_key(sha256(b"a short statement"))]
        head = s3_client.head_object(Bucket=s3_bucket, Key=content_key(digest))
        assert head["Metadata"] == {"sha256": digest.hex}
        assert head["ContentType"] == "application/octet-stream"

    def test_prefix_keeps_every_key_under_it(
        self, make_s3_store: Callable[..., S3BlobStore], s3_client: S3Client, s3_bucket: str
    ) -> None:
        store = make_s3_store(prefix="precedent/evidence")
        digest = write_in_chunks(store, b"namespaced")
        assert keys(s3_client, s3_bucket) == [content_key(digest, "precedent/evidence/")]
        assert list(store.iter_digests()) == [digest]

    def test_stray_keys_are_not_listed_as_blobs(
        self, s3_store: S3BlobStore, s3_client: S3Client, s3_bucket: str
    ) -> None:
        digest = write_in_chunks(s3_store, b"real")
        s3_client.put_object(Bucket=s3_bucket, Key="sha256/README", Body=b"x")
        s3_client.put_object(Bucket=s3_bucket, Key=content_key(digest) + ".bak", Body=b"x")
        assert list(s3_store.iter_digests()) == [digest]

    def test_part_size_below_the_s3_minimum_is_refused(self, s3_bucket: str) -> None:
        with pytest.raises(ValueError, match="5 MiB"):
            S3BlobStore(s3_bucket, part_size=PART - 1)


class TestS3Multipart:
    def test_body_larger_than_one_part_is_uploaded_in_parts(
        self, s3_store: S3BlobStore, s3_client: S3Client, s3_bucket: str, multipart_body: bytes
    ) -> None:
        digest = write_in_chunks(s3_store, multipart_body, expected=sha256(multipart_body))
        assert keys(s3_client, s3_bucket) == [content_key(digest)]
        assert open_uploads(s3_client, s3_bucket) == []
        head = s3_client.head_object(Bucket=s3_bucket, Key=content_key(digest))
        assert head["Metadata"] == {"sha256": digest.hex}
        assert head["ContentLength"] == MULTIPART_BODY_SIZE
        assert s3_store.verify(digest).ok
        assert (
            b"".join(s3_store.open_range(digest, PART - 10, PART + 10))
            == multipart_body[PART - 10 : PART + 10]
        )

    def test_identical_multipart_body_is_stored_once(
        self, s3_store: S3BlobStore, s3_client: S3Client, s3_bucket: str, multipart_body: bytes
    ) -> None:
        write_in_chunks(s3_store, multipart_body)
        with s3_store.begin_write() as writer:
            writer.write(multipart_body)
            assert writer.commit().created is False
        assert keys(s3_client, s3_bucket) == [content_key(sha256(multipart_body))]

    def test_mismatch_after_parts_were_sent_leaves_nothing(
        self, s3_store: S3BlobStore, s3_client: S3Client, s3_bucket: str, multipart_body: bytes
    ) -> None:
        with pytest.raises(DigestMismatch):
            write_in_chunks(s3_store, multipart_body, expected=sha256(b"something else"))
        assert keys(s3_client, s3_bucket) == []
        assert open_uploads(s3_client, s3_bucket) == []

    def test_oversized_body_aborts_the_multipart_upload(
        self, s3_store: S3BlobStore, s3_client: S3Client, s3_bucket: str, multipart_body: bytes
    ) -> None:
        with pytest.raises(BlobTooLarge):
            write_in_chunks(s3_store, multipart_body, max_bytes=PART + MiB)
        assert keys(s3_client, s3_bucket) == []
        assert open_uploads(s3_client, s3_bucket) == []

    def test_object_over_the_copy_limit_is_copied_in_parts(
        self,
        s3_store: S3BlobStore,
        s3_client: S3Client,
        s3_bucket: str,
        multipart_body: bytes,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # Scaled down: the real limit is 5 GiB; the mechanism (UploadPartCopy) is the same.
        monkeypatch.setattr(s3_module, "_MAX_COPY_OBJECT_SIZE", PART)
        monkeypatch.setattr(s3_module, "_COPY_PART_SIZE", PART)
        digest = write_in_chunks(s3_store, multipart_body)
        assert keys(s3_client, s3_bucket) == [content_key(digest)]
        assert s3_client.head_object(Bucket=s3_bucket, Key=content_key(digest))["Metadata"] == {
            "sha256": digest.hex
        }
        assert s3_store.verify(digest).ok


class TestS3Cleanup:
    def test_stale_multipart_upload_is_aborted_by_cleanup(
        self, s3_store: S3BlobStore, s3_client: S3Client, s3_bucket: str, multipart_body: bytes
    ) -> None:
        abandoned = s3_store.begin_write()  # its process "dies": never committed nor aborted
        abandoned.write(multipart_body)
        assert len(open_uploads(s3_client, s3_bucket)) == 1
        # No age threshold here: moto reports every upload as initiated in 2010.
        assert s3_store.cleanup_temporary() == 1
        assert open_uploads(s3_client, s3_bucket) == []
        assert keys(s3_client, s3_bucket) == []

    def test_stale_temporary_object_is_deleted_by_cleanup(
        self, s3_store: S3BlobStore, s3_client: S3Client, s3_bucket: str
    ) -> None:
        # What a process killed between completing an upload and copying it leaves behind.
        s3_client.put_object(Bucket=s3_bucket, Key="tmp/0123456789abcdef", Body=b"half done")
        assert s3_store.cleanup_temporary(older_than_seconds=3600) == 0
        assert s3_store.cleanup_temporary() == 1
        assert keys(s3_client, s3_bucket) == []

    def test_cleanup_leaves_stored_blobs_alone(self, s3_store: S3BlobStore, multipart_body: bytes) -> None:
        digest = write_in_chunks(s3_store, multipart_body)
        assert s3_store.cleanup_temporary() == 0
        assert s3_store.verify(digest).ok


def test_package_imports_without_boto3(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['boto3'] = None\n"
        "import evidence_store\n"
        "store = evidence_store.LocalBlobStore(sys.argv[1])\n"
        "try:\n"
        "    evidence_store.S3BlobStore\n"
        "except ImportError:\n"
        "    print('s3 needs boto3')\n"
    )
    project_root = Path(evidence_store.__file__).resolve().parents[1]
    with_root = {**os.environ, "PYTHONPATH": str(project_root)}
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "store")],
        capture_output=True,
        env=with_root,
        check=True,
    )
    assert result.stdout == b"s3 needs boto3\n"


class TestS3NoDedupOracle:
    """Bytes already stored cost what new ones cost: the same requests, carrying the same bytes."""

    @staticmethod
    def _requests(store: S3BlobStore, body: bytes) -> list[tuple[str, int]]:
        sent: list[tuple[str, int]] = []

        def record(model: Any, params: dict[str, Any], **_: Any) -> None:
            payload = params.get("body") or b""
            sent.append((model.name, len(payload) if isinstance(payload, bytes | bytearray) else -1))

        events = store._client.meta.events
        events.register("before-call.s3", record)
        try:
            with store.begin_write() as writer:
                writer.write(body)
                writer.commit()
        finally:
            events.unregister("before-call.s3", record)
        return sent

    @pytest.mark.parametrize("size", [1000, MULTIPART_BODY_SIZE])
    def test_a_stored_body_is_sent_and_copied_like_a_new_one(
        self, s3_store: S3BlobStore, s3_client: S3Client, s3_bucket: str, size: int
    ) -> None:
        first, second = os.urandom(size), os.urandom(size)
        new = self._requests(s3_store, first)
        self._requests(s3_store, second)
        again = self._requests(s3_store, second)

        # The duplicate sends every byte and makes every copy the new one made; it only deletes its scratch.
        def work(requests: list[tuple[str, int]]) -> list[tuple[str, int]]:
            return [r for r in requests if r[0] != "DeleteObject"]

        assert work(again) == work(new)
        assert sorted(keys(s3_client, s3_bucket)) == sorted(content_key(sha256(b)) for b in (first, second))
