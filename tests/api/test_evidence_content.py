"""Serving and verifying evidence: ranges, digest headers, custody of downloads, damaged bytes never served intact."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.auth.security import Actor
from api.context import AppContext
from api.evidence import service as evidence_service
from evidence_store import BlobCorrupted
from tests.conftest import Account
from tests.factories import API, create_case, ok, upload

SIZE = 1024 * 1024 + 300_005  # more than one 1 MiB read block


@pytest.fixture
def stored(client: TestClient, documenter: Account) -> tuple[dict, bytes]:
    case = create_case(client, documenter)
    data = os.urandom(SIZE)
    return upload(client, documenter, case["id"], data, filename="video.mp4"), data


def content(client: TestClient, who: Account, item: dict, **headers: str):  # type: ignore[no-untyped-def]
    return client.get(f"{API}/evidence/{item['id']}/content", headers={**who.headers, **headers})


def flip_byte(ctx: AppContext, digest: str, offset: int) -> None:
    """Damage one stored byte behind the service's back."""
    hex_ = digest.removeprefix("sha256:")
    path = ctx.settings.evidence_dir / "sha256" / hex_[:2] / hex_[2:4] / hex_
    path.chmod(0o644)
    with path.open("r+b") as file:
        file.seek(offset)
        byte = file.read(1)
        file.seek(offset)
        file.write(bytes([byte[0] ^ 0x01]))


def test_the_whole_file_comes_with_its_digest_and_the_download_is_a_custody_event(
    client: TestClient, documenter: Account, stored: tuple[dict, bytes]
) -> None:
    item, data = stored
    response = content(client, documenter, item)
    assert response.status_code == 200
    assert response.content == data
    digest = hashlib.sha256(data).digest()
    assert response.headers["repr-digest"] == f"sha-256=:{base64.b64encode(digest).decode()}:"
    assert response.headers["digest"] == f"SHA-256={base64.b64encode(digest).decode()}"
    assert response.headers["etag"] == f'"sha256:{digest.hex()}"'
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(SIZE)
    assert (
        response.headers["content-disposition"]
        == "attachment; filename=\"video.mp4\"; filename*=UTF-8''video.mp4"
    )
    custody = ok(client.get(f"{API}/evidence/{item['id']}/custody", headers=documenter.headers))
    assert [e["action"] for e in custody] == ["received", "downloaded"]
    assert custody[1]["actor_id"] == str(documenter.user_id)
    assert custody[1]["details"] == {}


def test_a_byte_range_is_served_with_206(
    client: TestClient, documenter: Account, stored: tuple[dict, bytes]
) -> None:
    item, data = stored
    whole_digest = f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"
    for header, start, end in [
        ("bytes=0-9", 0, 10),
        ("bytes=1048570-1048600", 1048570, 1048601),  # across two read blocks
        ("bytes=1300000-", 1300000, SIZE),
        ("bytes=-7", SIZE - 7, SIZE),
        ("bytes=100-99999999999", 100, SIZE),
    ]:
        response = content(client, documenter, item, Range=header)
        assert response.status_code == 206, header
        assert response.content == data[start:end], header
        assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{SIZE}"
        assert response.headers["content-length"] == str(end - start)
        # The digest is of the whole representation (RFC 9530), also on a partial response.
        assert response.headers["repr-digest"] == whole_digest
        last = ok(client.get(f"{API}/evidence/{item['id']}/custody", headers=documenter.headers))[-1]
        assert last["details"] == {"first_byte": start, "last_byte": end - 1}


def test_ranges_outside_the_file_get_416_and_others_are_ignored(
    client: TestClient, documenter: Account, stored: tuple[dict, bytes]
) -> None:
    item, data = stored
    for header in (f"bytes={SIZE}-", "bytes=-0", f"bytes={SIZE + 10}-{SIZE + 20}"):
        response = content(client, documenter, item, Range=header)
        assert response.status_code == 416, header
        assert response.headers["content-range"] == f"bytes */{SIZE}"
        assert response.headers["content-type"] == "application/problem+json"
    # Several ranges, other units, nonsense, or an If-Range that no longer matches: the whole file.
    for headers in ({"Range": "bytes=0-1,5-6"}, {"Range": "items=0-1"}, {"Range": "bytes=a-b"},
                    {"Range": "bytes=0-9", "If-Range": '"sha256:0000"'}):  # fmt: skip
        response = content(client, documenter, item, **headers)
        assert response.status_code == 200 and response.content == data, headers
    etag = content(client, documenter, item, Range="bytes=0-0").headers["etag"]
    assert content(client, documenter, item, Range="bytes=0-9", **{"If-Range": etag}).status_code == 206


def test_verify_rehashes_the_stored_bytes_and_records_the_result(
    client: TestClient, documenter: Account, stored: tuple[dict, bytes]
) -> None:
    item, _ = stored
    result = ok(client.post(f"{API}/evidence/{item['id']}/verify", headers=documenter.headers))
    assert result["status"] == "ok"
    assert result["digest"] == result["found"] == item["digest"]
    assert result["size"] == SIZE
    custody = ok(client.get(f"{API}/evidence/{item['id']}/custody", headers=documenter.headers))
    assert custody[-1]["action"] == "verified" and custody[-1]["leaf_index"] == result["leaf_index"]
    assert custody[-1]["details"] == {"result": "ok"}
    seen = ok(client.get(f"{API}/evidence/{item['id']}", headers=documenter.headers))
    assert seen["integrity"]["status"] == "ok" and seen["integrity"]["checked_at"] is not None


def test_a_flipped_byte_is_caught_and_never_served_as_intact(
    client: TestClient, ctx: AppContext, documenter: Account, stored: tuple[dict, bytes]
) -> None:
    item, data = stored
    flip_byte(ctx, item["digest"], SIZE - 3)
    # A whole-file download is rehashed as it is sent: the last chunk is held back and never sent.
    response = content(client, documenter, item)
    assert response.content != data
    assert len(response.content) < SIZE
    assert hashlib.sha256(response.content).hexdigest() != item["digest"][7:]
    # From then on the item is flagged, and nothing is served, whole or in part.
    for headers in ({}, {"Range": "bytes=0-9"}):
        refused = content(client, documenter, item, **headers)
        assert refused.status_code == 500
        assert refused.json()["type"] == "/problems/integrity-failure"
    seen = ok(client.get(f"{API}/evidence/{item['id']}", headers=documenter.headers))
    assert seen["integrity"]["status"] == "mismatch"
    custody = ok(client.get(f"{API}/evidence/{item['id']}/custody", headers=documenter.headers))
    finding = next(e for e in custody if e["action"] == "verified")
    assert finding["details"]["result"] == "mismatch" and finding["details"]["during"] == "download"


def test_verify_reports_a_flipped_byte_and_stops_serving(
    client: TestClient, ctx: AppContext, documenter: Account, stored: tuple[dict, bytes]
) -> None:
    item, data = stored
    flip_byte(ctx, item["digest"], 12345)
    damaged = bytearray(data)
    damaged[12345] ^= 0x01
    result = ok(client.post(f"{API}/evidence/{item['id']}/verify", headers=documenter.headers))
    assert result["status"] == "mismatch"
    assert result["found"] == f"sha256:{hashlib.sha256(damaged).hexdigest()}"
    assert content(client, documenter, item, Range="bytes=0-9").status_code == 500


def test_a_missing_blob_is_reported(
    client: TestClient, ctx: AppContext, documenter: Account, stored: tuple[dict, bytes]
) -> None:
    item, _ = stored
    hex_ = item["digest"][7:]
    (ctx.settings.evidence_dir / "sha256" / hex_[:2] / hex_[2:4] / hex_).unlink()
    assert (
        ok(client.post(f"{API}/evidence/{item['id']}/verify", headers=documenter.headers))["status"]
        == "missing"
    )
    assert content(client, documenter, item).json()["type"] == "/problems/integrity-failure"


# ---- ranges: only from a file verified whole ----------------------------------------------------------------

TAMPERED_AT = 1_200_000  # inside `bytes=0-`, outside `bytes=10-20` and `bytes=-5`


def custody_of(client: TestClient, who: Account, item: dict) -> list[dict]:
    return ok(client.get(f"{API}/evidence/{item['id']}/custody", headers=who.headers))  # type: ignore[return-value]


def assert_refused(response, data: bytes) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/integrity-failure"
    assert "content-range" not in response.headers
    assert data[:16] not in response.content


@pytest.mark.parametrize("range_", ["bytes=0-", "bytes=10-20", "bytes=-5"])
def test_a_range_of_a_tampered_file_is_refused_and_the_file_flagged(
    client: TestClient, ctx: AppContext, documenter: Account, stored: tuple[dict, bytes], range_: str
) -> None:
    item, data = stored
    flip_byte(ctx, item["digest"], TAMPERED_AT)
    damaged = bytearray(data)
    damaged[TAMPERED_AT] ^= 0x01
    # The whole file is rehashed before a partial response starts, even for bytes that were not changed.
    assert_refused(content(client, documenter, item, Range=range_), data)
    seen = ok(client.get(f"{API}/evidence/{item['id']}", headers=documenter.headers))
    assert seen["integrity"]["status"] == "mismatch"
    custody = custody_of(client, documenter, item)
    assert [e["action"] for e in custody] == ["received", "verified"]  # nothing was downloaded
    assert custody[1]["details"] == {
        "result": "mismatch",
        "during": "download",
        "found": f"sha256:{hashlib.sha256(damaged).hexdigest()}",
    }
    # From then on nothing is served, whole or in part.
    for headers in ({}, {"Range": range_}):
        assert_refused(content(client, documenter, item, **headers), data)


def test_if_range_and_head_do_not_get_round_the_check(
    client: TestClient, ctx: AppContext, documenter: Account, stored: tuple[dict, bytes]
) -> None:
    item, data = stored
    etag = content(client, documenter, item, Range="bytes=0-0").headers["etag"]
    flip_byte(ctx, item["digest"], TAMPERED_AT)
    url = f"{API}/evidence/{item['id']}/content"
    head = client.head(url, headers={**documenter.headers, "Range": "bytes=0-9"})
    assert head.status_code not in (200, 206) and data[:10] not in head.content
    assert_refused(content(client, documenter, item, Range="bytes=0-9", **{"If-Range": etag}), data)
    assert_refused(content(client, documenter, item), data)


def test_a_range_of_a_missing_file_is_refused_and_recorded(
    client: TestClient, ctx: AppContext, documenter: Account, stored: tuple[dict, bytes]
) -> None:
    item, data = stored
    hex_ = item["digest"][7:]
    (ctx.settings.evidence_dir / "sha256" / hex_[:2] / hex_[2:4] / hex_).unlink()
    assert_refused(content(client, documenter, item, Range="bytes=10-20"), data)
    seen = ok(client.get(f"{API}/evidence/{item['id']}", headers=documenter.headers))
    assert seen["integrity"]["status"] == "missing"
    assert custody_of(client, documenter, item)[-1]["details"] == {"result": "missing", "during": "download"}


def test_an_honest_file_beside_a_tampered_one_still_gets_its_ranges(
    client: TestClient, ctx: AppContext, documenter: Account, stored: tuple[dict, bytes]
) -> None:
    tampered, _ = stored
    flip_byte(ctx, tampered["digest"], TAMPERED_AT)
    data = os.urandom(SIZE)
    item = upload(client, documenter, tampered["case_id"], data, filename="honest.mp4")
    for header, start, end in [("bytes=0-", 0, SIZE), ("bytes=10-20", 10, 21), ("bytes=-5", SIZE - 5, SIZE)]:
        response = content(client, documenter, item, Range=header)
        assert response.status_code == 206, header
        assert response.content == data[start:end], header
        assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{SIZE}"
    seen = ok(client.get(f"{API}/evidence/{item['id']}", headers=documenter.headers))
    assert seen["integrity"]["status"] == "ok"


def drain(chunks: Iterator[bytes], *, into: bytearray) -> None:
    for chunk in chunks:
        into += chunk


def test_bytes_changed_between_the_check_and_the_serving_are_never_sent(
    client: TestClient, ctx: AppContext, documenter: Account, stored: tuple[dict, bytes]
) -> None:
    item, data = stored
    actor = Actor.for_user(documenter.user_id, documenter.username, documenter.role)
    download = evidence_service.prepare_download(
        ctx=ctx, actor=actor, evidence_id=uuid.UUID(item["id"]), range_header="bytes=0-", if_range=None
    )
    assert download.status == 206  # the whole file verified: the status line may go out
    flip_byte(ctx, item["digest"], TAMPERED_AT)  # then the file changes before its second block is read
    sent = bytearray()
    with pytest.raises(BlobCorrupted):
        drain(download.chunks, into=sent)
    assert bytes(sent) == data[: 1024 * 1024]  # the changed block was withheld, not a byte of it sent
    seen = ok(client.get(f"{API}/evidence/{item['id']}", headers=documenter.headers))
    assert seen["integrity"]["status"] == "mismatch"
    assert_refused(content(client, documenter, item, Range="bytes=0-9"), data)
