"""open_verified_range: a range only from a blob verified whole, and only bytes that were verified, on both stores."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest

from evidence_store import BlobCorrupted, BlobNotFound, BlobStore, Digest, InvalidRange
from tests.evidence_store.conftest import FlipByte

MiB = 1024 * 1024
SIZE = 2 * MiB + 12_345  # three read blocks, the last one short


@pytest.fixture(scope="module")
def data() -> bytes:
    return os.urandom(SIZE)


def put(store: BlobStore, data: bytes) -> Digest:
    with store.begin_write() as writer:
        for offset in range(0, len(data), 300_000):  # chunks that do not line up with the read blocks
            writer.write(data[offset : offset + 300_000])
        return writer.commit().digest


def drain(chunks: Iterator[bytes], *, into: bytearray) -> None:
    for chunk in chunks:
        into += chunk


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, SIZE),
        (0, 10),
        (10, 21),
        (MiB - 5, MiB + 5),  # across two blocks
        (SIZE - 5, SIZE),
        (MiB, 2 * MiB),  # exactly one block
        (7, 7),
    ],
)
def test_an_honest_blob_serves_exactly_the_range(store: BlobStore, data: bytes, start: int, end: int) -> None:
    digest = put(store, data)
    assert b"".join(store.open_verified_range(digest, start, end)) == data[start:end]


def test_a_damaged_blob_is_refused_before_any_byte_is_returned(
    store: BlobStore, data: bytes, flip_byte: FlipByte
) -> None:
    digest = put(store, data)
    flip_byte(store, digest, SIZE - 1)  # far outside the range asked for
    with pytest.raises(BlobCorrupted) as caught:
        store.open_verified_range(digest, 0, 10)
    damaged = bytearray(data)
    damaged[SIZE - 1] ^= 0x01
    assert caught.value.found == Digest(hashlib.sha256(damaged).hexdigest())


def test_a_missing_blob_or_a_range_outside_it_is_refused(store: BlobStore, data: bytes) -> None:
    digest = put(store, data)
    with pytest.raises(InvalidRange):
        store.open_verified_range(digest, SIZE - 1, SIZE + 1)
    with pytest.raises(BlobNotFound):
        store.open_verified_range(Digest(hashlib.sha256(b"never stored").hexdigest()), 0, 1)


def test_bytes_changed_after_the_check_are_never_served(
    store: BlobStore, data: bytes, flip_byte: FlipByte
) -> None:
    digest = put(store, data)
    chunks = store.open_verified_range(digest, 100, SIZE)
    flip_byte(store, digest, 2 * MiB + 5)  # in the range's last block, after the whole blob was verified
    served = bytearray()
    with pytest.raises(BlobCorrupted, match="changed after it was verified"):
        drain(chunks, into=served)
    # Only the blocks that still hash as verified went out; the changed block was withheld entirely.
    assert bytes(served) == data[100 : 2 * MiB]


def test_a_change_outside_the_range_after_the_check_does_not_alter_what_is_served(
    store: BlobStore, data: bytes, flip_byte: FlipByte
) -> None:
    digest = put(store, data)
    chunks = store.open_verified_range(digest, 0, 10)
    flip_byte(store, digest, SIZE - 1)
    assert b"".join(chunks) == data[:10]
