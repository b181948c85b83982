"""The review page of a recording, with JavaScript off: a coordinator makes the copy, downloads it, approves it
for an audience in a plain form, and the export page says what leaves; nobody without media:review gets in."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests import media_files
from tests.conftest import Account
from tests.factories import API, create_case, make_jpeg, upload
from tests.web.conftest import csrf_of, sign_in

_COPY = re.compile(r'name="derivative_id" value="([0-9a-f-]{36})"')


@pytest.fixture
def recording(client: TestClient, coordinator: Account) -> dict[str, str]:
    case = create_case(client, coordinator, categories=["A.LIB.ARREST"], summary="A recorded meeting.")
    item = upload(client, coordinator, case["id"], media_files.audio_flac(0.5), filename="meeting.flac")
    return {"case": case["id"], "item": item["id"]}


def test_a_coordinator_reviews_and_approves_a_recording_without_javascript(
    client: TestClient, coordinator: Account, recording: dict[str, str]
) -> None:
    sign_in(client, coordinator)
    case_page = client.get(f"/cases/{recording['case']}")
    assert f'href="/evidence/{recording["item"]}/review"' in case_page.text
    page = client.get(f"/evidence/{recording['item']}/review")
    assert page.status_code == 200 and "No copy yet." in page.text
    made = client.post(
        f"/evidence/{recording['item']}/review-copy",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert made.status_code == 303 and made.headers["location"].endswith("notice=made")
    page = client.get(made.headers["location"])
    match = _COPY.search(page.text)
    assert match, "no decision form for the copy"
    copy_id = match.group(1)
    digest = re.search(r'name="derivative_digest" value="(sha256:[0-9a-f]{64})"', page.text)
    assert digest
    form = {
        "csrf_token": csrf_of(page.text),
        "derivative_id": copy_id,
        "derivative_digest": digest.group(1),
        "audiences": ["ilo"],
        "note": "Only the chair's voice; no names said.",
        "decision": "approved",
    }
    unheard = client.post(f"/evidence/{recording['item']}/review", data=form, follow_redirects=False)
    assert unheard.status_code == 409 and "before you approve it" in unheard.text
    assert client.get(f"/evidence/{copy_id}/content").status_code == 200
    approved = client.post(f"/evidence/{recording['item']}/review", data=form, follow_redirects=False)
    assert approved.status_code == 303 and approved.headers["location"].endswith("notice=approved")
    page = client.get(approved.headers["location"])
    assert "Only the chair&#39;s voice" in page.text or "Only the chair's voice" in page.text
    export = client.get(f"/cases/{recording['case']}/export?audience=ilo")
    assert "the copy a coordinator reviewed and approved" in export.text
    export = client.get(f"/cases/{recording['case']}/export?audience=public")
    assert "approved for other audiences only" in export.text


def test_approving_without_an_audience_comes_back_with_the_reason(
    client: TestClient, coordinator: Account, recording: dict[str, str]
) -> None:
    copy = client.post(
        f"{API}/evidence/{recording['item']}/review-copies", headers=coordinator.headers
    ).json()
    sign_in(client, coordinator)
    page = client.get(f"/evidence/{recording['item']}/review")
    form = {
        "csrf_token": csrf_of(page.text),
        "derivative_id": copy["id"],
        "derivative_digest": copy["digest"],
        "decision": "approved",
    }
    response = client.post(f"/evidence/{recording['item']}/review", data=form, follow_redirects=False)
    assert response.status_code == 422 and "Tick at least one audience" in response.text


def test_the_page_is_in_belarusian_too(
    client: TestClient, coordinator: Account, recording: dict[str, str]
) -> None:
    sign_in(client, coordinator, lang="be")
    page = client.get(f"/evidence/{recording['item']}/review")
    assert page.status_code == 200 and "Review a recording for release" not in page.text


def test_a_documenter_may_not_review(
    client: TestClient, documenter: Account, recording: dict[str, str]
) -> None:
    sign_in(client, documenter)
    assert client.get(f"/evidence/{recording['item']}/review").status_code in (403, 404)


def test_a_photo_has_no_review_page(client: TestClient, coordinator: Account) -> None:
    case = create_case(client, coordinator, categories=["A.LIB.ARREST"], summary="A photo.")
    photo = upload(client, coordinator, case["id"], make_jpeg(), filename="p.jpg")
    sign_in(client, coordinator)
    assert client.get(f"/evidence/{photo['id']}/review").status_code == 422
