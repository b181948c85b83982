"""Audio and video leave for an outside audience only as a copy a person reviewed and approved: made from the
decoded sound and pictures (no tag, chapter, subtitle or attachment of the original survives), downloaded by
the reviewer, approved for named audiences with the copy's digest, and refused or withheld otherwise."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import av
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.context import AppContext
from api.models import EvidenceBlob
from tests import media_files
from tests.conftest import Account
from tests.factories import API, create_case, make_jpeg, ok, upload
from tests.leaks import find


def _bundle(
    client: TestClient, who: Account, case_id: str, audience: str
) -> tuple[dict[str, bytes], list[Any]]:
    """The exhibits of a bundle by file name, and what its withheld report says of files (not texts)."""
    response = client.get(f"{API}/cases/{case_id}/bundle", params={"audience": audience}, headers=who.headers)
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        exhibits = {
            n.rsplit("/", 1)[1]: archive.read(n) for n in archive.namelist() if "/data/exhibits/" in n
        }
        export = next(archive.read(n) for n in archive.namelist() if n.endswith("records/export.json"))
    withheld = [w for w in json.loads(export)["withheld"] if w["withheld"][0].startswith("E-")]
    return exhibits, withheld


def _what_it_says(data: bytes) -> str:
    """Every tag, chapter and stream a media reader finds in the bytes, as text."""
    with av.open(io.BytesIO(data)) as container:
        parts = [repr(dict(container.metadata)), repr(container.chapters())]
        parts += [f"{s.type} {dict(s.metadata)}" for s in container.streams]
    return "\n".join(parts)


def _review_copy(client: TestClient, who: Account, evidence_id: str) -> dict[str, Any]:
    return ok(client.post(f"{API}/evidence/{evidence_id}/review-copies", headers=who.headers), 201)


def _decide(
    client: TestClient, who: Account, evidence_id: str, copy: dict[str, Any], status: int = 201, **body: Any
) -> dict[str, Any]:
    payload = {"derivative_id": copy["id"], "derivative_digest": copy["digest"], **body}
    response = client.post(f"{API}/evidence/{evidence_id}/reviews", json=payload, headers=who.headers)
    return ok(response, status)


@pytest.fixture
def recording(client: TestClient, coordinator: Account) -> dict[str, Any]:
    """A case holding a phone video whose tags name the canary and a GPS position."""
    case = create_case(client, coordinator, categories=["A.LIB.ARREST"], summary="A recorded arrest.")
    item = upload(
        client, coordinator, case["id"], media_files.video_mp4(), filename=f"{media_files.CANARY}.mp4"
    )
    return {"case": case["id"], "item": item}


def test_a_recording_nobody_reviewed_is_withheld_and_the_report_says_so(
    client: TestClient, coordinator: Account, recording: dict[str, Any]
) -> None:
    exhibits, withheld = _bundle(client, coordinator, recording["case"], "ilo")
    assert exhibits == {}
    assert [w["withheld"] for w in withheld if "not reviewed" in w["reason"]] == [["E-1"]]


def test_an_approved_copy_leaves_for_its_audiences_and_carries_no_canary(
    client: TestClient, coordinator: Account, recording: dict[str, Any]
) -> None:
    original = recording["item"]
    copy = _review_copy(client, coordinator, original["id"])
    assert copy["media_type"] == "video/webm" and copy["derivation"] == "release"
    assert copy["derived_from_id"] == original["id"]
    _decide(client, coordinator, original["id"], copy, 409, decision="approved", audiences=["ilo"])  # unheard
    watched = client.get(f"{API}/evidence/{copy['id']}/content", headers=coordinator.headers)
    assert watched.status_code == 200
    assert find(watched.content, media_files.CANARIES) == []
    review = _decide(
        client,
        coordinator,
        original["id"],
        copy,
        decision="approved",
        audiences=["ituc", "ilo"],
        note="Faces blurred? no",
    )
    assert review["audiences"] == ["ilo", "ituc"] and review["derivative_digest"] == copy["digest"]

    exhibits, withheld = _bundle(client, coordinator, recording["case"], "ilo")
    assert list(exhibits) == ["E-1-video.webm"] and not withheld
    shipped = exhibits["E-1-video.webm"]
    assert shipped == watched.content
    assert find(shipped, media_files.CANARIES) == []
    assert find(_what_it_says(shipped).encode(), media_files.CANARIES) == []

    exhibits, withheld = _bundle(client, coordinator, recording["case"], "public")
    assert exhibits == {}
    assert "approved only for ilo, ituc" in withheld[0]["reason"]


def test_the_decision_is_a_custody_record_of_the_copy(
    client: TestClient, coordinator: Account, recording: dict[str, Any]
) -> None:
    copy = _review_copy(client, coordinator, recording["item"]["id"])
    client.get(f"{API}/evidence/{copy['id']}/content", headers=coordinator.headers)
    review = _decide(
        client,
        coordinator,
        recording["item"]["id"],
        copy,
        decision="approved",
        audiences=["partner"],
        note="ok",
    )
    events = ok(client.get(f"{API}/evidence/{copy['id']}/custody", headers=coordinator.headers))
    reviewed = [e for e in events if e["action"] == "reviewed"]
    assert [e["leaf_index"] for e in reviewed] == [review["leaf_index"]]
    assert reviewed[0]["object_digest"] == copy["digest"]
    assert reviewed[0]["details"]["audiences"] == ["partner"] and "note" not in reviewed[0]["details"]


def test_the_database_refuses_to_rewrite_or_delete_a_decision(
    client: TestClient, ctx: AppContext, coordinator: Account, recording: dict[str, Any]
) -> None:
    copy = _review_copy(client, coordinator, recording["item"]["id"])
    client.get(f"{API}/evidence/{copy['id']}/content", headers=coordinator.headers)
    _decide(client, coordinator, recording["item"]["id"], copy, decision="refused")
    for statement in ("UPDATE media_review SET decision = 'approved'", "DELETE FROM media_review"):
        with ctx.db.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="append-only"):
            conn.execute(sa.text(statement))
    with ctx.db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT decision FROM media_review")).scalars().all() == ["refused"]


def test_a_copy_with_other_bytes_than_those_reviewed_is_not_approved(
    client: TestClient, coordinator: Account, recording: dict[str, Any]
) -> None:
    copy = _review_copy(client, coordinator, recording["item"]["id"])
    client.get(f"{API}/evidence/{copy['id']}/content", headers=coordinator.headers)
    other = {**copy, "digest": "sha256:" + "0" * 64}
    problem = _decide(
        client, coordinator, recording["item"]["id"], other, 409, decision="approved", audiences=["ilo"]
    )
    assert "not the one you reviewed" in problem["detail"]
    not_a_copy = {**copy, "id": recording["item"]["id"], "digest": recording["item"]["digest"]}
    _decide(client, coordinator, recording["item"]["id"], not_a_copy, 409, decision="refused")


def test_an_approved_copy_whose_bytes_changed_is_withheld(
    client: TestClient, ctx: AppContext, coordinator: Account, recording: dict[str, Any]
) -> None:
    copy = _review_copy(client, coordinator, recording["item"]["id"])
    client.get(f"{API}/evidence/{copy['id']}/content", headers=coordinator.headers)
    _decide(client, coordinator, recording["item"]["id"], copy, decision="approved", audiences=["ilo"])
    with ctx.db.write_session() as session:
        session.execute(
            sa.update(EvidenceBlob)
            .where(EvidenceBlob.sha256 == copy["digest"][7:])
            .values(integrity="mismatch")
        )
    exhibits, withheld = _bundle(client, coordinator, recording["case"], "ilo")
    assert exhibits == {} and "no longer have the digest" in withheld[0]["reason"]


def test_a_refusal_after_an_approval_withholds_the_recording(
    client: TestClient, coordinator: Account, recording: dict[str, Any]
) -> None:
    copy = _review_copy(client, coordinator, recording["item"]["id"])
    client.get(f"{API}/evidence/{copy['id']}/content", headers=coordinator.headers)
    _decide(client, coordinator, recording["item"]["id"], copy, decision="approved", audiences=["ilo"])
    _decide(client, coordinator, recording["item"]["id"], copy, decision="refused", note="a voice is known")
    exhibits, withheld = _bundle(client, coordinator, recording["case"], "ilo")
    assert exhibits == {} and withheld[0]["reason"].endswith(
        "refused: a reviewer refused the release of its copy"
    )
    decisions = ok(
        client.get(f"{API}/evidence/{recording['item']['id']}/reviews", headers=coordinator.headers)
    )
    assert [d["decision"] for d in decisions] == ["refused", "approved"]


def test_an_internal_bundle_carries_the_original_recording(
    client: TestClient, coordinator: Account, recording: dict[str, Any]
) -> None:
    exhibits, _ = _bundle(client, coordinator, recording["case"], "internal")
    assert list(exhibits.values()) == [media_files.video_mp4()]


@pytest.mark.parametrize(
    ("make", "made_type"),
    [(media_files.audio_flac, "audio/ogg"), (media_files.video_mkv, "video/webm")],
    ids=["flac-vorbis-comments", "mkv-chapters-subtitles-attachment"],
)
def test_no_tag_chapter_subtitle_or_attachment_reaches_the_copy(
    client: TestClient, coordinator: Account, make: Any, made_type: str
) -> None:
    case = create_case(client, coordinator, categories=["A.LIB.ARREST"], summary="Recordings with tags.")
    item = upload(client, coordinator, case["id"], make(), filename="rec.bin")
    copy = _review_copy(client, coordinator, item["id"])
    assert copy["media_type"] == made_type
    data = client.get(f"{API}/evidence/{copy['id']}/content", headers=coordinator.headers).content
    assert find(data, media_files.CANARIES) == []
    said = _what_it_says(data)
    assert find(said.encode(), media_files.CANARIES) == []
    assert "subtitle" not in said and "attachment" not in said and "[]" in said  # no chapters


def test_a_recording_that_does_not_decode_is_refused_and_withheld_with_the_reason(
    client: TestClient, coordinator: Account
) -> None:
    case = create_case(client, coordinator, categories=["A.LIB.ARREST"], summary="A cut recording.")
    item = upload(
        client, coordinator, case["id"], media_files.cut(media_files.video_mp4()), filename="cut.mp4"
    )
    response = client.post(f"{API}/evidence/{item['id']}/review-copies", headers=coordinator.headers)
    assert response.status_code == 422
    assert "could not be decoded" in response.json()["errors"][0]["message"]
    exhibits, withheld = _bundle(client, coordinator, case["id"], "partner")
    assert exhibits == {}
    assert withheld[0]["withheld"] == ["E-1"] and "could not be decoded" in withheld[0]["reason"]


def test_only_reviewers_make_copies_and_decide(
    client: TestClient,
    coordinator: Account,
    documenter: Account,
    researcher: Account,
    recording: dict[str, Any],
) -> None:
    evidence_id = recording["item"]["id"]
    copy = _review_copy(client, coordinator, evidence_id)
    client.get(f"{API}/evidence/{copy['id']}/content", headers=coordinator.headers)
    for who in (documenter, researcher):
        assert client.post(
            f"{API}/evidence/{evidence_id}/review-copies", headers=who.headers
        ).status_code in (403, 404)
        _decide(client, who, evidence_id, copy, 403, decision="refused")
    _decide(client, coordinator, evidence_id, copy, decision="refused", note="names the witness's street")
    seen = ok(client.get(f"{API}/evidence/{evidence_id}/reviews", headers=researcher.headers))
    assert seen[0]["note"] is None and seen[0]["decision"] == "refused"


def test_a_photo_is_not_reviewed_as_a_recording(client: TestClient, coordinator: Account) -> None:
    case = create_case(client, coordinator, categories=["A.LIB.ARREST"], summary="A photo.")
    item = upload(client, coordinator, case["id"], make_jpeg(), filename="p.jpg")
    response = client.post(f"{API}/evidence/{item['id']}/review-copies", headers=coordinator.headers)
    assert response.status_code == 422
