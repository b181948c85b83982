"""Fixtures for the blob store tests: stores on disk and on a real S3 API server on loopback.

The S3 server (moto's standalone server, spoken to over HTTP by boto3) is started once per test session
by ``tests/conftest.py``, which the API tests share; every test gets its own bucket.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from evidence_store import BlobStore, Digest, LocalBlobStore
from tests.conftest import S3_CREDENTIALS

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from evidence_store.s3 import S3BlobStore

MiB = 1024 * 1024
#: The S3 minimum, so the tests prove the store works within real S3 limits.
S3_TEST_PART_SIZE = 5 * MiB

FlipByte = Callable[[BlobStore, Digest, int], None]


@pytest.fixture
def make_s3_store(s3_endpoint: str, s3_bucket: str) -> Callable[..., S3BlobStore]:
    """Return a factory of S3 stores on the test bucket, with 5 MiB parts unless told otherwise."""
    from evidence_store.s3 import S3BlobStore

    def make(**options: object) -> S3BlobStore:
        settings: dict[str, object] = {"endpoint_url": s3_endpoint, "part_size": S3_TEST_PART_SIZE}
        settings |= S3_CREDENTIALS | options
        return S3BlobStore(s3_bucket, **settings)  # type: ignore[arg-type]

    return make


@pytest.fixture
def s3_store(make_s3_store: Callable[..., S3BlobStore]) -> S3BlobStore:
    """Return an S3 store on a fresh bucket."""
    return make_s3_store()


@pytest.fixture
def local_store(tmp_path: Path) -> LocalBlobStore:
    """Return a local store, fsync on, in a fresh directory."""
    return LocalBlobStore(tmp_path / "store")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> BlobStore:
    """Return each backend in turn; the S3 server starts only if an S3 case runs."""
    backend: BlobStore = request.getfixturevalue(f"{request.param}_store")
    return backend


@pytest.fixture
def flip_byte(request: pytest.FixtureRequest) -> FlipByte:
    """Return a function that corrupts one stored byte behind the store's back."""

    def flip(store: BlobStore, digest: Digest, offset: int) -> None:
        if isinstance(store, LocalBlobStore):
            path = store.root / "sha256" / digest.hex[:2] / digest.hex[2:4] / digest.hex
            path.chmod(0o644)
            with path.open("r+b") as file:
                file.seek(offset)
                original = file.read(1)
                file.seek(offset)
                file.write(bytes([original[0] ^ 0x01]))
            return
        client: S3Client = request.getfixturevalue("s3_client")
        bucket = request.getfixturevalue("s3_bucket")
        key = f"sha256/{digest.hex[:2]}/{digest.hex[2:4]}/{digest.hex}"
        data = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
        data[offset] ^= 0x01
        client.put_object(Bucket=bucket, Key=key, Body=bytes(data))

    return flip
