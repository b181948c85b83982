"""Blob store behaviour, run against every backend, then what only the filesystem store promises.

The classes taking the ``store`` fixture run once per backend (local and S3, see conftest.py);
S3-only behaviour is in test_blobstore_s3.py. Expected digests come from hashlib, never from
the code under test.
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import evidence_store
from evidence_store import (
    BlobCorrupted,
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    Digest,
    DigestMismatch,
    InvalidRange,
    LocalBlobStore,
    VerifyStatus,
    WriterClosed,
)

if TYPE_CHECKING:
    from tests.evidence_store.conftest import FlipByte

MiB = 1024 * 1024
DATA = bytes(range(256)) * 40 + b"tail"  # 10 244 bytes: not a whole number of 4 KiB chunks


def sha256(data: bytes) -> Digest:
    """Return the digest of ``data``, computed independently of the store."""
    return Digest(hashlib.sha256(data).hexdigest())


def store_bytes(store: BlobStore, data: bytes, chunk_size: int = 4096) -> Digest:
    """Write ``data`` through a writer in chunks and return the committed digest."""
    with store.begin_write() as writer:
        for offset in range(0, len(data), chunk_size):
            writer.write(data[offset : offset + chunk_size])
        return writer.commit().digest


def read_all(store: BlobStore, digest: Digest) -> bytes:
    """Return the whole blob."""
    return b"".join(store.open_range(digest))


def drain_into(received: bytearray, chunks: Iterator[bytes]) -> None:
    """Append each chunk to ``received`` as it arrives, as an HTTP client would."""
    for chunk in chunks:
        received += chunk


def assert_store_is_empty(store: BlobStore) -> None:
    """Assert that no blob and no temporary leftover exists."""
    assert list(store.iter_digests()) == []
    assert store.cleanup_temporary() == 0


class TestWriting:
    def test_written_bytes_are_stored_under_their_digest(self, store: BlobStore) -> None:
        writer = store.begin_write()
        writer.write(DATA[:5000])
        writer.write(DATA[5000:])
        blob = writer.commit()
        assert (blob.digest, blob.size, blob.created) == (sha256(DATA), len(DATA), True)
        assert read_all(store, sha256(DATA)) == DATA
        assert store.exists(sha256(DATA))
        assert store.size(sha256(DATA)) == len(DATA)

    def test_identical_bytes_are_stored_once(self, store: BlobStore) -> None:
        store_bytes(store, DATA)
        with store.begin_write() as writer:
            writer.write(DATA)
            second = writer.commit()
        assert second.created is False
        assert second.digest == sha256(DATA)
        assert list(store.iter_digests()) == [sha256(DATA)]
        assert store.cleanup_temporary() == 0

    def test_matching_expected_digest_is_committed(self, store: BlobStore) -> None:
        with store.begin_write() as writer:
            writer.write(DATA)
            assert writer.commit(expected=sha256(DATA)).digest == sha256(DATA)

    def test_mismatching_expected_digest_stores_nothing(self, store: BlobStore) -> None:
        claimed = sha256(b"what the sender said it was")
        with store.begin_write() as writer:
            writer.write(DATA)
            with pytest.raises(DigestMismatch) as caught:
                writer.commit(expected=claimed)
        assert (caught.value.expected, caught.value.found) == (claimed, sha256(DATA))
        assert not store.exists(sha256(DATA))
        assert_store_is_empty(store)

    def test_oversized_write_stores_nothing(self, store: BlobStore) -> None:
        writer = store.begin_write(max_bytes=6000)
        writer.write(DATA[:5000])
        with pytest.raises(BlobTooLarge):
            writer.write(DATA[5000:])
        with pytest.raises(WriterClosed):
            writer.commit()
        assert_store_is_empty(store)

    def test_write_of_exactly_max_bytes_is_accepted(self, store: BlobStore) -> None:
        with store.begin_write(max_bytes=len(DATA)) as writer:
            writer.write(DATA)
            assert writer.commit().size == len(DATA)

    def test_empty_blob_is_stored(self, store: BlobStore) -> None:
        with store.begin_write() as writer:
            blob = writer.commit()
        assert blob.digest == sha256(b"")
        assert read_all(store, blob.digest) == b""
        assert store.verify(blob.digest).ok

    def test_memoryview_and_bytearray_chunks_are_accepted(self, store: BlobStore) -> None:
        with store.begin_write() as writer:
            writer.write(memoryview(DATA)[:100])
            writer.write(bytearray(DATA[100:]))
            assert writer.commit().digest == sha256(DATA)

    def test_chunks_written_from_worker_threads_keep_their_order(self, store: BlobStore) -> None:
        data = os.urandom(3 * MiB)
        with store.begin_write() as writer, ThreadPoolExecutor(max_workers=4) as pool:
            pending = None
            for offset in range(0, len(data), 64 * 1024):
                if pending is not None:
                    pending.result()  # one chunk in flight, as an HTTP handler pipelines it
                pending = pool.submit(writer.write, data[offset : offset + 64 * 1024])
            assert pending is not None
            pending.result()
            assert writer.commit(expected=sha256(data)).size == len(data)
        assert read_all(store, sha256(data)) == data


class TestWriterLifecycle:
    def test_leaving_the_block_without_commit_stores_nothing(self, store: BlobStore) -> None:
        with store.begin_write() as writer:
            writer.write(DATA)
        assert_store_is_empty(store)

    def test_exception_inside_the_block_stores_nothing(self, store: BlobStore) -> None:
        def upload_cut_short() -> None:
            with store.begin_write() as writer:
                writer.write(DATA)
                raise ConnectionResetError("client went away")

        with pytest.raises(ConnectionResetError):
            upload_cut_short()
        assert_store_is_empty(store)

    def test_abort_is_idempotent(self, store: BlobStore) -> None:
        writer = store.begin_write()
        writer.write(DATA)
        writer.abort()
        writer.abort()
        assert_store_is_empty(store)

    def test_abort_after_commit_keeps_the_blob(self, store: BlobStore) -> None:
        writer = store.begin_write()
        writer.write(DATA)
        digest = writer.commit().digest
        writer.abort()
        assert read_all(store, digest) == DATA

    def test_writer_refuses_use_after_commit(self, store: BlobStore) -> None:
        writer = store.begin_write()
        writer.commit()
        with pytest.raises(WriterClosed):
            writer.write(b"more")
        with pytest.raises(WriterClosed):
            writer.commit()

    def test_writer_refuses_use_after_abort(self, store: BlobStore) -> None:
        writer = store.begin_write()
        writer.abort()
        with pytest.raises(WriterClosed):
            writer.write(b"more")


class TestReading:
    @pytest.mark.parametrize(
        ("start", "end"),
        [(0, None), (0, 1), (1, 10), (4096, 8193), (len(DATA) - 4, None), (5, 5), (len(DATA), None)],
    )
    def test_range_read(self, store: BlobStore, start: int, end: int | None) -> None:
        digest = store_bytes(store, DATA)
        assert b"".join(store.open_range(digest, start, end)) == DATA[start:end]

    def test_large_blob_is_read_in_chunks_of_at_most_one_mebibyte(self, store: BlobStore) -> None:
        data = os.urandom(2 * MiB + 17)
        digest = store_bytes(store, data, chunk_size=MiB)
        chunks = list(store.open_range(digest))
        assert b"".join(chunks) == data
        assert len(chunks) >= 3
        assert max(len(chunk) for chunk in chunks) <= MiB

    @pytest.mark.parametrize(
        ("start", "end"), [(-1, None), (5, 4), (0, len(DATA) + 1), (len(DATA) + 1, None)]
    )
    def test_range_outside_the_blob_is_refused_before_reading(
        self, store: BlobStore, start: int, end: int | None
    ) -> None:
        digest = store_bytes(store, DATA)
        with pytest.raises(InvalidRange):
            store.open_range(digest, start, end)

    def test_missing_blob_is_reported_as_not_found(self, store: BlobStore) -> None:
        absent = sha256(b"never stored")
        assert not store.exists(absent)
        with pytest.raises(BlobNotFound):
            store.size(absent)
        with pytest.raises(BlobNotFound):
            store.open_range(absent)
        assert store.verify(absent).status is VerifyStatus.MISSING

    def test_iter_digests_lists_every_blob_once(self, store: BlobStore) -> None:
        payloads = [b"first", b"second", b"third", b"first"]
        for payload in payloads:
            store_bytes(store, payload)
        assert list(store.iter_digests()) == sorted({sha256(payload) for payload in payloads})

    @pytest.mark.parametrize("address", ["sha256:" + "0" * 64, "../../etc/passwd", b"\x00" * 32])
    def test_store_refuses_any_address_but_a_digest(self, store: BlobStore, address: object) -> None:
        with pytest.raises(TypeError):
            store.exists(address)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            store.open_range(address)  # type: ignore[arg-type]


class TestTamperDetection:
    def test_intact_blob_verifies(self, store: BlobStore) -> None:
        digest = store_bytes(store, DATA)
        result = store.verify(digest)
        assert result.ok
        assert (result.status, result.found, result.size) == (VerifyStatus.OK, digest, len(DATA))

    def test_flipped_byte_is_reported_by_verify(self, store: BlobStore, flip_byte: FlipByte) -> None:
        digest = store_bytes(store, DATA)
        flip_byte(store, digest, 1234)
        tampered = bytearray(DATA)
        tampered[1234] ^= 0x01
        result = store.verify(digest)
        assert not result.ok
        assert result.status is VerifyStatus.MISMATCH
        assert result.found == sha256(bytes(tampered))

    def test_verified_read_of_intact_blob_returns_every_byte(self, store: BlobStore) -> None:
        data = os.urandom(2 * MiB + 1)
        digest = store_bytes(store, data, chunk_size=MiB)
        assert b"".join(store.open_range(digest, verify=True)) == data

    def test_verified_read_of_tampered_blob_never_delivers_the_whole_blob(
        self, store: BlobStore, flip_byte: FlipByte
    ) -> None:
        data = os.urandom(2 * MiB + 1)
        digest = store_bytes(store, data, chunk_size=MiB)
        flip_byte(store, digest, len(data) - 1)
        received = bytearray()
        with pytest.raises(BlobCorrupted) as caught:
            drain_into(received, store.open_range(digest, verify=True))
        assert caught.value.digest == digest
        assert len(received) < len(data)
        assert isinstance(caught.value, evidence_store.IntegrityError)

    def test_verified_read_must_cover_the_whole_blob(self, store: BlobStore) -> None:
        digest = store_bytes(store, DATA)
        with pytest.raises(ValueError, match="full read"):
            store.open_range(digest, 1, None, verify=True)


KILLED_WRITER = """
import sys
from evidence_store import LocalBlobStore

writer = LocalBlobStore(sys.argv[1]).begin_write()
writer.write(b"x" * 65536)
print("writing", flush=True)
for _ in range(200):
    writer.write(b"x" * 65536)
sys.stdin.read()  # wait to be killed
"""

#: Commits, but SIGKILLs itself at the first call of the function named in argv[2].
KILLED_IN_COMMIT = """
import os, pathlib, signal, sys
from evidence_store import LocalBlobStore

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

writer = LocalBlobStore(sys.argv[1]).begin_write()
writer.write(sys.argv[3].encode())
owner = pathlib.Path if sys.argv[2] == "unlink" else os
setattr(owner, sys.argv[2], die)
writer.commit()
"""


def child_env() -> dict[str, str]:
    """Return an environment in which a child Python imports this checkout's evidence_store."""
    return {**os.environ, "PYTHONPATH": str(Path(evidence_store.__file__).resolve().parents[1])}


def run_killed_writer(root: Path) -> None:
    """Start a writer in a child process, SIGKILL it mid-upload, and wait for it to die."""
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=child_env(),
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline() == b"writing\n"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL


def run_writer_killed_in_commit(root: Path, at: str, payload: str) -> None:
    """Commit ``payload`` in a child process that is SIGKILLed when commit first calls ``at``."""
    child = subprocess.run(
        [sys.executable, "-c", KILLED_IN_COMMIT, str(root), at, payload],
        env=child_env(),
        check=False,
    )
    assert child.returncode == -signal.SIGKILL


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and flock")
class TestLocalCrashSafety:
    def test_killed_writer_leaves_no_blob_at_content_address(self, local_store: LocalBlobStore) -> None:
        run_killed_writer(local_store.root)
        assert list(local_store.iter_digests()) == []
        assert list((local_store.root / "sha256").rglob("*")) == []
        assert len(list((local_store.root / "tmp").iterdir())) == 1
        assert local_store.cleanup_temporary() == 1
        assert list((local_store.root / "tmp").iterdir()) == []

    @pytest.mark.parametrize("at", ["fsync", "fchmod", "link"])
    def test_writer_killed_in_commit_before_linking_leaves_no_blob(
        self, local_store: LocalBlobStore, at: str
    ) -> None:
        run_writer_killed_in_commit(local_store.root, at, "a statement")
        assert list(local_store.iter_digests()) == []
        assert local_store.cleanup_temporary() == 1
        assert list((local_store.root / "tmp").iterdir()) == []

    def test_writer_killed_after_linking_leaves_an_intact_blob(self, local_store: LocalBlobStore) -> None:
        run_writer_killed_in_commit(local_store.root, "unlink", "a statement")
        digest = sha256(b"a statement")
        assert list(local_store.iter_digests()) == [digest]
        assert local_store.cleanup_temporary() == 1  # the temporary name of the same file
        assert local_store.verify(digest).ok
        assert read_all(local_store, digest) == b"a statement"

    def test_cleanup_keeps_leftovers_younger_than_the_threshold(self, local_store: LocalBlobStore) -> None:
        run_killed_writer(local_store.root)
        assert local_store.cleanup_temporary(older_than_seconds=3600) == 0
        assert local_store.cleanup_temporary(older_than_seconds=0) == 1

    def test_cleanup_spares_the_upload_of_a_live_writer(self, tmp_path: Path) -> None:
        uploading = LocalBlobStore(tmp_path / "store")
        restarting = LocalBlobStore(tmp_path / "store")  # e.g. another worker process starting up
        with uploading.begin_write() as writer:
            writer.write(DATA)
            assert restarting.cleanup_temporary() == 0
            writer.write(DATA)
            blob = writer.commit()
        assert read_all(uploading, blob.digest) == DATA + DATA


class TestLocalLayout:
    def test_blob_is_a_read_only_file_at_its_sharded_address(self, local_store: LocalBlobStore) -> None:
        digest = store_bytes(local_store, DATA)
        hex_digest = hashlib.sha256(DATA).hexdigest()
        path = local_store.root / "sha256" / hex_digest[:2] / hex_digest[2:4] / hex_digest
        assert path.read_bytes() == DATA
        assert stat.S_IMODE(path.stat().st_mode) == 0o400
        assert digest.hex == hex_digest
        assert list((local_store.root / "tmp").iterdir()) == []

    def test_existing_file_at_the_address_is_never_replaced(self, local_store: LocalBlobStore) -> None:
        hex_digest = hashlib.sha256(DATA).hexdigest()
        squatter = local_store.root / "sha256" / hex_digest[:2] / hex_digest[2:4] / hex_digest
        squatter.parent.mkdir(parents=True)
        squatter.write_bytes(b"planted earlier")
        with local_store.begin_write() as writer:
            writer.write(DATA)
            assert writer.commit().created is False
        assert squatter.read_bytes() == b"planted earlier"
        assert local_store.verify(sha256(DATA)).status is VerifyStatus.MISMATCH

    def test_stray_files_are_not_listed_as_blobs(self, local_store: LocalBlobStore) -> None:
        digest = store_bytes(local_store, DATA)
        blobs = local_store.root / "sha256"
        (blobs / "README").write_text("not a blob")
        (blobs / digest.hex[:2] / digest.hex[2:4] / (digest.hex + ".bak")).write_bytes(DATA)
        misfiled = sha256(b"elsewhere").hex
        (blobs / digest.hex[:2] / digest.hex[2:4] / misfiled).write_bytes(b"elsewhere")
        assert list(local_store.iter_digests()) == [digest]

    def test_store_without_fsync_stores_the_same_bytes(self, tmp_path: Path) -> None:
        fast = LocalBlobStore(tmp_path / "store", fsync=False)
        assert read_all(fast, store_bytes(fast, DATA)) == DATA


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="needs posix_fadvise")
def test_a_large_write_hands_its_bytes_to_the_kernel_every_16_mib(
    local_store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evidence_store import blobstore

    calls: list[tuple[int, int, int]] = []
    monkeypatch.setattr(
        os, "posix_fadvise", lambda fd, offset, length, advice: calls.append((offset, length, advice))
    )
    block = os.urandom(blobstore.WRITEBACK_BYTES // 4)
    with local_store.begin_write() as writer:
        for _ in range(9):
            writer.write(block)
        stored = writer.commit()
    quarter = len(block)
    assert calls == [
        (0, 4 * quarter, os.POSIX_FADV_DONTNEED),
        (4 * quarter, 4 * quarter, os.POSIX_FADV_DONTNEED),
    ]
    assert local_store.verify(stored.digest).ok
