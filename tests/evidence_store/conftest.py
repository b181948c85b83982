"""Fixtures for the blob store tests: stores on disk and on a real S3 API server on loopback.

The S3 server is moto's standalone server in a child process, spoken to over HTTP by boto3,
started once per test session; every test gets its own bucket.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

from evidence_store import BlobStore, Digest, LocalBlobStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from evidence_store.s3 import S3BlobStore

MiB = 1024 * 1024
#: The S3 minimum, so the tests prove the store works within real S3 limits.
S3_TEST_PART_SIZE = 5 * MiB
S3_CREDENTIALS = {"region": "us-east-1", "access_key": "testing", "secret_key": "testing"}

FlipByte = Callable[[BlobStore, Digest, int], None]


def _free_port() -> int:
    """Return a TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Poll ``url`` until it answers; fail early if the server process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - fixed loopback URL
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"moto server did not answer on {url} within {timeout} s")


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run moto's S3 server on a free loopback port for the session; yield its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_serving(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> S3Client:
    """Return a boto3 client of the test server, for setting up and inspecting buckets."""
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=S3_CREDENTIALS["region"],
        aws_access_key_id=S3_CREDENTIALS["access_key"],
        aws_secret_access_key=S3_CREDENTIALS["secret_key"],
    )


@pytest.fixture
def s3_bucket(s3_client: S3Client) -> str:
    """Create an empty bucket for one test."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    return name


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
