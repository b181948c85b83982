"""Receiving evidence: multipart and raw uploads, digests, limits, sniffing, sighted documents, working copies."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.context import AppContext
from api.main import create_app
from evidence_store.canonical import canonical_json
from tests.conftest import Account
from tests.factories import (
    API,
    PHOTO_POSITION,
    PHOTO_SERIAL,
    create_case,
    make_jpeg,
    ok,
    put_raw,
    upload,
)


def stored_nothing(ctx: AppContext) -> None:
    """Assert that no evidence row, no blob at a content address and no temporary file exist."""
    with ctx.db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM evidence_item")).scalar_one() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM custody_event")).scalar_one() == 0
    assert list(ctx.blob_store.iter_digests()) == []
    assert list((ctx.settings.evidence_dir / "tmp").iterdir()) == []


def events(client: TestClient, who: Account, evidence_id: str) -> list[dict]:
    return ok(client.get(f"{API}/evidence/{evidence_id}/custody", headers=who.headers))


# ---- receiving files --------------------------------------------------------------------------------------


def test_documenter_uploads_a_photo_and_sees_its_sha256(
    client: TestClient, ctx: AppContext, documenter: Account
) -> None:
    case = create_case(client, documenter)
    photo = make_jpeg()
    response = client.post(
        f"{API}/cases/{case['id']}/evidence",
        files={"file": ("IMG_0042.jpg", photo, "image/jpeg")},
        data={
            "description": "Gate of the plant",
            "captured_at": "2022-04-19T10:30:00+03:00",
            "kind": "photo",
        },
        headers=documenter.headers,
    )
    item = ok(response, 201)
    digest = hashlib.sha256(photo).hexdigest()
    assert response.headers["Location"] == f"/api/v1/evidence/{item['id']}"
    assert item["digest"] == f"sha256:{digest}"
    assert item["size"] == len(photo)
    assert item["media_type"] == "image/jpeg"
    assert item["form"] == "file" and item["kind"] == "photo"
    assert item["original_filename"] == "IMG_0042.jpg"
    assert item["captured_at"] == "2022-04-19T07:30:00Z"
    assert item["embedded_metadata"]["image"] == {"format": "JPEG", "width": 64, "height": 48, "mode": "RGB"}
    assert item["embedded_metadata"]["exif"]["model"] == "EOS 5D"
    # The bytes sit at their content address and nowhere else.
    path = ctx.settings.evidence_dir / "sha256" / digest[:2] / digest[2:4] / digest
    assert path.read_bytes() == photo
    assert [d.hex for d in ctx.blob_store.iter_digests()] == [digest]
    (received,) = events(client, documenter, item["id"])
    assert received["action"] == "received"
    assert received["object_digest"] == item["digest"]
    assert received["details"] == {
        "size": len(photo),
        "media_type": "image/jpeg",
        "via": "multipart",
        "tool": "Precedent 0.1.0",
    }


def test_raw_put_takes_metadata_from_the_query_and_the_digest_from_a_header(
    client: TestClient, documenter: Account
) -> None:
    case = create_case(client, documenter)
    data = b"%PDF-1.4\n% a court ruling\n" + os.urandom(5000)
    digest = hashlib.sha256(data)
    response = client.put(
        f"{API}/cases/{case['id']}/evidence",
        params={
            "description": "Ruling of the Supreme Court",
            "kind": "court_record",
            "filename": "ruling.pdf",
        },
        content=data,
        headers={
            **documenter.headers,
            "Content-Type": "application/octet-stream",
            "Repr-Digest": f"sha-256=:{base64.b64encode(digest.digest()).decode()}:",
        },
    )
    item = ok(response, 201)
    assert item["digest"] == f"sha256:{digest.hexdigest()}"
    assert item["kind"] == "court_record"
    assert item["media_type"] == "application/pdf"
    assert item["original_filename"] == "ruling.pdf"


def test_a_large_file_is_received_in_blocks_and_stored_whole(client: TestClient, documenter: Account) -> None:
    case = create_case(client, documenter)
    data = os.urandom(5 * 1024 * 1024 + 17)
    item = upload(client, documenter, case["id"], data, sha256=hashlib.sha256(data).hexdigest())
    assert item["size"] == len(data)
    content = client.get(f"{API}/evidence/{item['id']}/content", headers=documenter.headers)
    assert content.content == data


def test_identical_bytes_are_stored_once_and_linked_twice(
    client: TestClient, ctx: AppContext, documenter: Account
) -> None:
    case = create_case(client, documenter)
    other = create_case(client, documenter, title="Dismissal at Naftan")
    data = os.urandom(200_000)
    first = upload(client, documenter, case["id"], data, description="first")
    ok(client.post(f"{API}/evidence/{first['id']}/verify", headers=documenter.headers))
    second = put_raw(client, documenter, other["id"], data)
    assert first["id"] != second["id"]
    assert first["digest"] == second["digest"]
    # The second answer looks the same as the first: it does not reveal that the bytes were known.
    assert first.keys() == second.keys() and second["integrity"] == {"status": "ok", "checked_at": None}
    assert len(list(ctx.blob_store.iter_digests())) == 1
    with ctx.db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM evidence_blob")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM evidence_item")).scalar_one() == 2


def test_a_sha256_mismatch_gets_422_and_stores_nothing(
    client: TestClient, ctx: AppContext, documenter: Account
) -> None:
    case = create_case(client, documenter)
    data = os.urandom(1_500_000)
    wrong = hashlib.sha256(data + b"!").hexdigest()
    for problem, field in [
        (upload(client, documenter, case["id"], data, status=422, sha256=wrong), "body.sha256"),
        (put_raw(client, documenter, case["id"], data, status=422, sha256=f"sha256:{wrong}"), "query.sha256"),
    ]:
        assert problem["errors"][0]["field"] == field
        assert problem["errors"][0]["type"] == "digest_mismatch"
        assert problem["expected"] == f"sha256:{wrong}"
        assert problem["found"] == f"sha256:{hashlib.sha256(data).hexdigest()}"
    stored_nothing(ctx)


@pytest.fixture
def small_limit_client(make_settings) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(make_settings(max_upload_bytes=100_000)), raise_server_exceptions=False) as c:
        yield c


def test_an_oversized_upload_gets_413_and_stores_nothing(
    small_limit_client: TestClient, documenter: Account
) -> None:
    client = small_limit_client
    ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
    case = create_case(client, documenter)
    data = os.urandom(100_001)
    # Declared too large: refused before a byte is read.
    problem = put_raw(client, documenter, case["id"], data, status=413)
    assert problem["type"] == "/problems/payload-too-large"
    upload(client, documenter, case["id"], data + os.urandom(1024 * 1024), status=413)

    # Not declared (chunked): counted while it streams.
    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 16_384):
            yield data[start : start + 16_384]

    response = client.put(
        f"{API}/cases/{case['id']}/evidence",
        content=chunks(),
        headers={**documenter.headers, "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 413, response.text
    # A multipart file part over the limit inside a body whose length was within the form allowance.
    upload(client, documenter, case["id"], data, status=413)
    stored_nothing(ctx)
    # At the limit exactly, the file is accepted.
    assert put_raw(client, documenter, case["id"], data[:100_000])["size"] == 100_000


def test_the_media_type_is_sniffed_and_the_file_name_never_becomes_a_path(
    client: TestClient, ctx: AppContext, documenter: Account
) -> None:
    case = create_case(client, documenter)
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(300)
    item = upload(client, documenter, case["id"], png, filename="../../../../etc/cron.d/evil.pdf")
    assert item["media_type"] == "image/png"
    assert item["original_filename"] == "evil.pdf"
    raw = put_raw(
        client, documenter, case["id"], b"<html><script>alert(1)</script>", filename="..\\..\\x.jpg"
    )
    assert raw["media_type"] == "text/html"
    assert raw["original_filename"] == "x.jpg"
    evidence_files = {
        p.relative_to(ctx.settings.evidence_dir).as_posix()
        for p in ctx.settings.evidence_dir.rglob("*")
        if p.is_file()
    }
    assert evidence_files == {f"sha256/{d[7:9]}/{d[9:11]}/{d[7:]}" for d in (item["digest"], raw["digest"])}
    # Served back as an attachment, and HTML never with a type a browser would run.
    content = client.get(f"{API}/evidence/{raw['id']}/content", headers=documenter.headers)
    assert content.headers["content-type"] == "application/octet-stream"
    assert content.headers["content-disposition"].startswith('attachment; filename="x.jpg"')


def test_malformed_uploads_are_refused_and_store_nothing(
    client: TestClient, ctx: AppContext, documenter: Account
) -> None:
    case = create_case(client, documenter)
    url = f"{API}/cases/{case['id']}/evidence"
    # No file part.
    problem = ok(
        client.post(url, data={"description": "x"}, files={"other": ("a", b"x")}, headers=documenter.headers),
        422,
    )
    assert problem["errors"][0]["field"] in ("body.file", "body.other")
    # An unknown metadata field.
    problem = upload(client, documenter, case["id"], b"abc", status=422, colour="red")
    assert problem["errors"][0]["field"] == "body.colour"
    # A bad value.
    problem = upload(client, documenter, case["id"], b"abc", status=422, captured_at="yesterday")
    assert problem["errors"][0]["field"] == "body.captured_at"
    # Not multipart at all.
    response = client.post(url, content=b"abc", headers={**documenter.headers, "Content-Type": "text/plain"})
    assert response.status_code == 415
    # A multipart body cut before its closing boundary.
    body = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n' + os.urandom(2000)
    response = client.post(
        url, content=body, headers={**documenter.headers, "Content-Type": "multipart/form-data; boundary=XyZ"}
    )
    assert response.status_code == 400
    # An unknown query parameter on the raw upload.
    assert (
        put_raw(client, documenter, case["id"], b"abc", status=422, colour="red")["errors"][0]["field"]
        == "query.colour"
    )
    stored_nothing(ctx)


# ---- who may see what -------------------------------------------------------------------------------------


def test_researchers_never_see_gps_or_device_identifiers(
    client: TestClient, documenter: Account, researcher: Account, coordinator: Account
) -> None:
    case = create_case(client, documenter)
    item = upload(client, documenter, case["id"], make_jpeg(), filename="photo.jpg")
    url = f"{API}/evidence/{item['id']}"
    for who in (documenter, coordinator):
        seen = ok(client.get(url, headers=who.headers))
        identifying = seen["identifying_metadata"]["exif"]
        assert identifying["gps"]["position"] == PHOTO_POSITION
        assert identifying["body_serial_number"] == PHOTO_SERIAL
        assert seen["embedded_metadata"]["exif"]["model"] == "EOS 5D"
    responses = [
        client.get(url, headers=researcher.headers),
        client.get(f"{API}/cases/{case['id']}/evidence", headers=researcher.headers),
        client.get(f"{API}/evidence/{item['id']}/custody", headers=researcher.headers),
    ]
    for response in responses:
        assert response.status_code == 200
        for secret in (PHOTO_POSITION.split(",")[0], "53, 54", PHOTO_SERIAL, "latitude"):
            assert secret not in response.text
    # A researcher's view is an allow-list: no metadata of the file at all, not even the camera model.
    assert "identifying_metadata" not in responses[0].json()
    assert "embedded_metadata" not in responses[0].json() and "EOS 5D" not in responses[0].text
    # The bytes themselves carry the EXIF: researchers may not download them.
    assert client.get(f"{url}/content", headers=researcher.headers).status_code == 403


def test_reading_identifying_metadata_is_audited(
    client: TestClient, ctx: AppContext, documenter: Account
) -> None:
    case = create_case(client, documenter)
    item = upload(client, documenter, case["id"], make_jpeg())
    ok(client.get(f"{API}/evidence/{item['id']}", headers=documenter.headers))
    with ctx.db.engine.connect() as conn:
        targets = (
            conn.execute(
                sa.text("SELECT target_id FROM audit_event WHERE action = 'evidence.identifiers.read'")
            )
            .scalars()
            .all()
        )
    assert targets == [item["id"]]


def test_a_documenter_cannot_reach_another_documenters_evidence(
    client: TestClient, documenter: Account, documenter2: Account
) -> None:
    case = create_case(client, documenter)
    item = upload(client, documenter, case["id"], make_jpeg())
    for method, url, kwargs in [
        ("GET", f"{API}/evidence/{item['id']}", {}),
        ("GET", f"{API}/evidence/{item['id']}/content", {}),
        ("POST", f"{API}/evidence/{item['id']}/verify", {}),
        ("GET", f"{API}/evidence/{item['id']}/custody", {}),
        ("POST", f"{API}/evidence/{item['id']}/derivatives", {"json": {"method": "strip_metadata"}}),
        ("GET", f"{API}/cases/{case['id']}/evidence", {}),
        ("POST", f"{API}/cases/{case['id']}/evidence", {"files": {"file": ("a", b"abc")}}),
        ("PUT", f"{API}/cases/{case['id']}/evidence", {"content": b"abc"}),
    ]:
        response = client.request(method, url, headers=documenter2.headers, **kwargs)
        assert response.status_code == 404, (method, url, response.text)
        assert item["digest"][7:] not in response.text


# ---- sighted documents and working copies -----------------------------------------------------------------


def test_a_sighted_document_is_recorded_with_a_digest_of_its_statement(
    client: TestClient, documenter: Account
) -> None:
    case = create_case(client, documenter)
    witness = ok(
        client.post(f"{API}/people", json={"pseudonym": "Witness K-7"}, headers=documenter.headers), 201
    )
    statement = {
        "description": "Handwritten police report",
        "document_date": "2016-05-01",
        "sighted_by": "Trade unionist J. D.",
        "sighted_by_person_id": witness["id"],
        "sighted_on": "2016-05-03",
        "sighted_place": "Police headquarters, Minsk",
        "content": "States that the chair was detained for 'hooliganism' at 14:00.",
    }
    response = client.post(
        f"{API}/cases/{case['id']}/evidence/sighted", json=statement, headers=documenter.headers
    )
    item = ok(response, 201)
    assert item["form"] == "sighted" and item["kind"] == "official_record"
    assert item["digest"] is None and item["integrity"] is None
    # The digest is SHA-256 of the canonical JSON of the statement, as documented.
    record = {"v": 1, "kind": "official_record", "source": None, **statement}
    record["content"] = statement["content"]
    expected = hashlib.sha256(canonical_json(record)).hexdigest()
    assert item["sighted"]["statement_digest"] == f"sha256:{expected}"
    (recorded,) = events(client, documenter, item["id"])
    assert recorded["action"] == "recorded" and recorded["object_digest"] == f"sha256:{expected}"
    verified = ok(client.post(f"{API}/evidence/{item['id']}/verify", headers=documenter.headers))
    assert verified["status"] == "ok"
    assert client.get(f"{API}/evidence/{item['id']}/content", headers=documenter.headers).status_code == 404


def test_a_sighted_document_needs_who_when_and_what(client: TestClient, documenter: Account) -> None:
    case = create_case(client, documenter)
    response = client.post(
        f"{API}/cases/{case['id']}/evidence/sighted",
        json={"description": "A report"},
        headers=documenter.headers,
    )
    fields = {e["field"] for e in ok(response, 422)["errors"]}
    assert {"body.sighted_by", "body.sighted_on", "body.content"} <= fields


def test_a_working_copy_drops_gps_and_serials_and_is_linked_to_the_untouched_original(
    client: TestClient, documenter: Account, researcher: Account
) -> None:
    case = create_case(client, documenter)
    photo = make_jpeg()
    original = upload(client, documenter, case["id"], photo, filename="IMG_1.jpg", kind="photo")
    response = client.post(
        f"{API}/evidence/{original['id']}/derivatives",
        json={"method": "strip_metadata"},
        headers=documenter.headers,
    )
    copy = ok(response, 201)
    assert copy["form"] == "working_copy" and copy["derivation"] == "strip_metadata"
    assert copy["derived_from_id"] == original["id"]
    assert copy["digest"] != original["digest"] and copy["media_type"] == "image/jpeg"
    assert copy["embedded_metadata"] == {
        "image": {"format": "JPEG", "width": 64, "height": 48, "mode": "RGB"}
    }
    assert (
        ok(client.get(f"{API}/evidence/{copy['id']}", headers=documenter.headers))["identifying_metadata"]
        is None
    )
    copy_bytes = client.get(f"{API}/evidence/{copy['id']}/content", headers=documenter.headers).content
    assert PHOTO_SERIAL.encode() not in copy_bytes and b"Exif" not in copy_bytes
    original_bytes = client.get(
        f"{API}/evidence/{original['id']}/content", headers=documenter.headers
    ).content
    assert original_bytes == photo
    derived_on_original = [e for e in events(client, documenter, original["id"]) if e["action"] == "derived"]
    assert derived_on_original[0]["details"]["derivative"] == copy["id"]
    assert derived_on_original[0]["details"]["derivative_digest"] == copy["digest"]
    (derived_copy,) = [e for e in events(client, documenter, copy["id"]) if e["action"] == "derived"]
    assert derived_copy["details"]["source_digest"] == original["digest"]
    assert derived_copy["details"]["tool"].startswith("Pillow ")
    # Only images can be stripped this way.
    other = put_raw(client, documenter, case["id"], b"%PDF-1.4 not an image")
    response = client.post(
        f"{API}/evidence/{other['id']}/derivatives",
        json={"method": "strip_metadata"},
        headers=documenter.headers,
    )
    assert ok(response, 422)["errors"][0]["type"] == "unsupported_media_type"
    # A researcher may not make copies.
    response = client.post(
        f"{API}/evidence/{original['id']}/derivatives",
        json={"method": "strip_metadata"},
        headers=researcher.headers,
    )
    assert response.status_code == 403


def test_evidence_of_a_case_is_listed_oldest_first(client: TestClient, documenter: Account) -> None:
    case = create_case(client, documenter)
    first = upload(client, documenter, case["id"], b"one")
    second = put_raw(client, documenter, case["id"], b"two")
    listed = ok(client.get(f"{API}/cases/{case['id']}/evidence", headers=documenter.headers))
    assert [i["id"] for i in listed] == [first["id"], second["id"]]
    assert all(i["identifying_metadata"] is None for i in listed)


def test_metadata_of_a_damaged_file_is_noted_and_the_file_still_kept(
    client: TestClient, documenter: Account
) -> None:
    case = create_case(client, documenter)
    broken = b"\xff\xd8\xff\xe0" + os.urandom(500)  # looks like a JPEG, is not one
    item = upload(client, documenter, case["id"], broken)
    assert item["media_type"] == "image/jpeg"
    assert set(item["embedded_metadata"]) == {"unreadable"}
    assert json.dumps(item)  # stays JSON


def test_bytes_already_known_to_be_damaged_are_not_filed_again(
    client: TestClient, ctx: AppContext, documenter: Account, tmp_path: Path
) -> None:
    case = create_case(client, documenter)
    data = os.urandom(1000)
    item = upload(client, documenter, case["id"], data)
    digest = item["digest"][7:]
    path = ctx.settings.evidence_dir / "sha256" / digest[:2] / digest[2:4] / digest
    path.chmod(0o644)
    path.write_bytes(b"x" + data[1:])
    assert (
        ok(client.post(f"{API}/evidence/{item['id']}/verify", headers=documenter.headers))["status"]
        == "mismatch"
    )
    problem = ok(
        client.post(
            f"{API}/cases/{case['id']}/evidence", files={"file": ("a", data)}, headers=documenter.headers
        ),
        500,
    )
    assert problem["type"] == "/problems/integrity-failure"


def test_a_retracted_case_takes_no_new_evidence(
    client: TestClient, ctx: AppContext, documenter: Account
) -> None:
    case = create_case(client, documenter)
    response = client.post(
        f"{API}/cases/{case['id']}/retract",
        json={"reason": "entered twice"},
        headers={**documenter.headers, "If-Match": '"v1"'},
    )
    ok(response)
    assert upload(client, documenter, case["id"], b"late", status=409)["type"] == "/problems/conflict"
    assert put_raw(client, documenter, case["id"], b"late", status=409)["type"] == "/problems/conflict"
    stored_nothing(ctx)
