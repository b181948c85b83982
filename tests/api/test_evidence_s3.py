"""The same uploads with PRECEDENT_STORAGE_BACKEND=s3, against a real S3 API server (moto) on loopback."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.conftest import S3_CREDENTIALS, Account
from tests.factories import API, PHOTO_POSITION, create_case, make_jpeg, ok, put_raw, upload

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture
def s3_client_app(make_settings, s3_endpoint: str, s3_bucket: str) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings = make_settings(
        storage_backend="s3",
        s3_bucket=s3_bucket,
        s3_prefix="precedent",
        s3_endpoint_url=s3_endpoint,
        s3_region=S3_CREDENTIALS["region"],
        s3_access_key_id=S3_CREDENTIALS["access_key"],
        s3_secret_access_key=S3_CREDENTIALS["secret_key"],
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_uploads_land_in_the_bucket_under_their_digest_and_come_back_intact(
    s3_client_app: TestClient, s3_client: S3Client, s3_bucket: str, documenter: Account
) -> None:
    client = s3_client_app
    case = create_case(client, documenter)
    photo = make_jpeg()
    video = os.urandom(9 * 1024 * 1024 + 3)  # more than one 8 MiB part: a multipart upload to S3
    photo_item = upload(
        client, documenter, case["id"], photo, filename="photo.jpg", sha256=hashlib.sha256(photo).hexdigest()
    )
    video_item = put_raw(client, documenter, case["id"], video, filename="video.mp4")
    keys = {o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])}
    assert keys == {
        f"precedent/sha256/{d[7:9]}/{d[9:11]}/{d[7:]}" for d in (photo_item["digest"], video_item["digest"])
    }
    assert video_item["digest"] == f"sha256:{hashlib.sha256(video).hexdigest()}"
    # Metadata is read from the bucket with ranged reads; identifying data stays sealed.
    assert photo_item["embedded_metadata"]["exif"]["make"] == "Canon"
    seen = ok(client.get(f"{API}/evidence/{photo_item['id']}", headers=documenter.headers))
    assert seen["identifying_metadata"]["exif"]["gps"]["position"] == PHOTO_POSITION
    whole = client.get(f"{API}/evidence/{video_item['id']}/content", headers=documenter.headers)
    assert whole.status_code == 200 and whole.content == video
    part = client.get(
        f"{API}/evidence/{video_item['id']}/content",
        headers={**documenter.headers, "Range": "bytes=8388600-8388620"},
    )
    assert part.status_code == 206 and part.content == video[8388600:8388621]
    assert (
        ok(client.post(f"{API}/evidence/{video_item['id']}/verify", headers=documenter.headers))["status"]
        == "ok"
    )
    copy = ok(
        client.post(
            f"{API}/evidence/{photo_item['id']}/derivatives",
            json={"method": "strip_metadata"},
            headers=documenter.headers,
        ),
        201,
    )
    assert copy["media_type"] == "image/jpeg" and copy["derived_from_id"] == photo_item["id"]


def test_a_mismatch_or_an_oversized_body_leaves_nothing_in_the_bucket(
    s3_client_app: TestClient, s3_client: S3Client, s3_bucket: str, documenter: Account
) -> None:
    client = s3_client_app
    case = create_case(client, documenter)
    data = os.urandom(6 * 1024 * 1024)
    put_raw(client, documenter, case["id"], data, status=422, sha256="0" * 64)
    assert s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


def test_bytes_changed_in_the_bucket_are_caught_by_verify(
    s3_client_app: TestClient, s3_client: S3Client, s3_bucket: str, documenter: Account
) -> None:
    client = s3_client_app
    case = create_case(client, documenter)
    item = put_raw(client, documenter, case["id"], os.urandom(100_000))
    hex_ = item["digest"][7:]
    key = f"precedent/sha256/{hex_[:2]}/{hex_[2:4]}/{hex_}"
    data = bytearray(s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read())
    data[5] ^= 0x01
    s3_client.put_object(Bucket=s3_bucket, Key=key, Body=bytes(data))
    assert (
        ok(client.post(f"{API}/evidence/{item['id']}/verify", headers=documenter.headers))["status"]
        == "mismatch"
    )
    assert client.get(f"{API}/evidence/{item['id']}/content", headers=documenter.headers).status_code == 500


def test_a_range_of_an_object_changed_in_the_bucket_is_refused_and_an_honest_one_served(
    s3_client_app: TestClient, s3_client: S3Client, s3_bucket: str, documenter: Account
) -> None:
    client = s3_client_app
    case = create_case(client, documenter)
    size = 2 * 1024 * 1024 + 100  # three read blocks
    honest_data, tampered_data = os.urandom(size), os.urandom(size)
    honest = put_raw(client, documenter, case["id"], honest_data)
    tampered = put_raw(client, documenter, case["id"], tampered_data)
    hex_ = tampered["digest"][7:]
    key = f"precedent/sha256/{hex_[:2]}/{hex_[2:4]}/{hex_}"
    changed = bytearray(tampered_data)
    changed[1_500_000] ^= 0x01  # inside `bytes=0-`, outside `bytes=10-20` and `bytes=-5`
    s3_client.put_object(Bucket=s3_bucket, Key=key, Body=bytes(changed))
    url = f"{API}/evidence/{tampered['id']}/content"
    for range_ in ("bytes=0-", "bytes=10-20", "bytes=-5"):
        refused = client.get(url, headers={**documenter.headers, "Range": range_})
        assert refused.status_code == 500, range_
        assert refused.json()["type"] == "/problems/integrity-failure"
        assert tampered_data[:16] not in refused.content and bytes(changed[-5:]) not in refused.content
    assert client.get(url, headers=documenter.headers).status_code == 500  # flagged: a plain GET is refused
    seen = ok(client.get(f"{API}/evidence/{tampered['id']}", headers=documenter.headers))
    assert seen["integrity"]["status"] == "mismatch"
    for range_, start, end in [("bytes=0-", 0, size), ("bytes=10-20", 10, 21), ("bytes=-5", size - 5, size)]:
        part = client.get(
            f"{API}/evidence/{honest['id']}/content", headers={**documenter.headers, "Range": range_}
        )
        assert part.status_code == 206, range_
        assert part.content == honest_data[start:end], range_
