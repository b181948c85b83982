"""A stored blob as a read-only, seekable binary file, for parsers that need random access.

Metadata parsers (image headers, a PDF's trailer, an MP4's ``moov`` box) seek around a file instead
of reading it front to back. ``open_blob(store, digest)`` gives them a buffered file object whose
reads are byte-range requests to the store (a local file read, or an S3 ranged GET), so only the
bytes a parser asks for are fetched and memory stays at one buffer whatever the blob's size.

The bytes are not rehashed on the way: a caller that needs them proven intact calls
``BlobStore.verify`` (or reads with ``open_range(..., verify=True)``) first.
"""

from __future__ import annotations

import io
import os

from evidence_store.blobstore import BlobStore
from evidence_store.digest import Digest

__all__ = ["BlobReader", "open_blob"]

#: Bytes fetched per read from the store; parsers mostly ask for a few bytes at a time.
READ_BUFFER_SIZE = 64 * 1024


class BlobReader(io.RawIOBase):
    """Unbuffered, seekable reads of one blob through ``BlobStore.open_range``."""

    def __init__(self, store: BlobStore, digest: Digest, size: int | None = None) -> None:
        """Open ``digest`` in ``store``; ``size`` saves a lookup when the caller knows it."""
        super().__init__()
        self._store = store
        self._digest = digest
        self._size = store.size(digest) if size is None else size
        self._position = 0

    def readable(self) -> bool:
        """Return True: the blob can be read."""
        return True

    def seekable(self) -> bool:
        """Return True: any position can be read."""
        return True

    def tell(self) -> int:
        """Return the current position."""
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move to ``offset`` relative to the start, the current position or the end."""
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence {whence}")
        position = base + offset
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._position = position
        return position

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Read up to ``len(buffer)`` bytes at the current position; return how many were read."""
        view = memoryview(buffer).cast("B")
        end = min(self._position + len(view), self._size)
        if end <= self._position:
            return 0
        filled = 0
        for chunk in self._store.open_range(self._digest, self._position, end):
            view[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
        self._position += filled
        return filled


def open_blob(store: BlobStore, digest: Digest, size: int | None = None) -> io.BufferedReader:
    """Return a buffered, seekable, read-only file over a stored blob."""
    return io.BufferedReader(BlobReader(store, digest, size), buffer_size=READ_BUFFER_SIZE)
