"""SHA-256 digests (FIPS 180-4) as a value object with one string form, ``sha256:<64 lowercase hex>``.

The same lowercase hex is what BagIt (RFC 8493) manifests list, so a digest printed here can be
compared by eye with ``manifest-sha256.txt`` and with ``sha256sum`` output.
Hashing always reads fixed-size blocks; a whole file is never held in memory.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import re
from dataclasses import dataclass
from typing import ClassVar, Protocol

from evidence_store.errors import InvalidDigest

__all__ = ["BLOCK_SIZE", "Digest", "ReadableBinary", "hash_file", "hash_stream"]

#: Bytes read per block when hashing; large enough that hashlib releases the GIL and
#: per-call overhead vanishes, small enough to stay cache- and memory-friendly.
BLOCK_SIZE = 1024 * 1024

_HEX_RE = re.compile(r"[0-9a-f]{64}")


class ReadableBinary(Protocol):
    """Anything with a binary ``read(size)``: files, sockets' makefile(), BytesIO."""

    def read(self, size: int, /) -> bytes:
        """Return up to ``size`` bytes; an empty result means end of stream."""
        ...


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A SHA-256 digest; ``str(d)`` is its only string form, ``sha256:<64 lowercase hex>``."""

    algorithm: ClassVar[str] = "sha256"
    prefix: ClassVar[str] = "sha256:"

    hex: str

    def __post_init__(self) -> None:
        """Refuse anything but 64 lowercase hex characters."""
        if not isinstance(self.hex, str) or not _HEX_RE.fullmatch(self.hex):
            raise InvalidDigest(f"not 64 lowercase hex characters: {self.hex!r:.80}")

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``sha256:<64 lowercase hex>``; raise InvalidDigest on any other form."""
        if not isinstance(text, str) or not text.startswith(cls.prefix):
            raise InvalidDigest(f"expected 'sha256:<64 lowercase hex>', got {text!r:.80}")
        return cls(text.removeprefix(cls.prefix))

    @classmethod
    def from_hex(cls, hex_text: str) -> Digest:
        """Build a digest from bare 64 lowercase hex characters (sha256sum output)."""
        return cls(hex_text)

    @classmethod
    def from_bytes(cls, raw: builtins.bytes) -> Digest:
        """Build a digest from the 32 raw bytes of a SHA-256 hash."""
        if len(raw) != hashlib.sha256().digest_size:
            raise InvalidDigest(f"a SHA-256 digest has 32 bytes, got {len(raw)}")
        return cls(raw.hex())

    @property
    def bytes(self) -> builtins.bytes:
        """Return the 32 raw digest bytes."""
        return builtins.bytes.fromhex(self.hex)

    def __str__(self) -> str:
        """Return ``sha256:<hex>``."""
        return f"{self.prefix}{self.hex}"

    def __repr__(self) -> str:
        """Return ``Digest('sha256:<hex>')``."""
        return f"Digest({str(self)!r})"


def hash_stream(stream: ReadableBinary, block_size: int = BLOCK_SIZE) -> tuple[Digest, int]:
    """Hash a binary stream to its end in fixed-size blocks; return (digest, byte count)."""
    if block_size <= 0:
        raise ValueError(f"block_size must be positive, got {block_size}")
    hasher = hashlib.sha256()
    size = 0
    while block := stream.read(block_size):
        hasher.update(block)
        size += len(block)
    return Digest(hasher.hexdigest()), size


def hash_file(path: str | os.PathLike[str], block_size: int = BLOCK_SIZE) -> tuple[Digest, int]:
    """Hash the file at ``path`` in fixed-size blocks; return (digest, byte count)."""
    # Unbuffered: each read goes straight into a fresh block, no second copy in a buffer.
    with open(path, "rb", buffering=0) as stream:
        return hash_stream(stream, block_size)
