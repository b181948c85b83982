"""Seekable reads of stored blobs, for parsers that jump around a file."""

from __future__ import annotations

import io
import os

import pytest

from evidence_store import BlobStore
from evidence_store.reader import open_blob


def test_a_stored_blob_reads_like_a_file(store: BlobStore) -> None:
    data = os.urandom(300_000)
    with store.begin_write() as writer:
        writer.write(data)
        stored = writer.commit()
    with open_blob(store, stored.digest) as file:
        assert file.seekable() and file.readable()
        assert file.read(10) == data[:10]
        file.seek(-100, io.SEEK_END)
        assert file.read() == data[-100:]
        assert file.read(5) == b""
        file.seek(150_000)
        assert file.tell() == 150_000
        file.seek(7, io.SEEK_CUR)
        assert file.read(70_000) == data[150_007:220_007]
        file.seek(0)
        assert file.read() == data
        with pytest.raises(ValueError, match="negative"):
            file.seek(-1)
