"""Evidence on the case page: upload without JavaScript, the digest shown, downloads, custody, refusals."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from tests.conftest import Account
from tests.factories import API, PHOTO_POSITION, PHOTO_SERIAL, create_case, make_jpeg
from tests.web.conftest import csrf_of, sign_in
from tests.web.world import CANARY_LATIN, World, build_world


@pytest.fixture
def world(browser: TestClient, documenter: Account) -> World:
    return build_world(browser, documenter)


def _upload(
    browser: TestClient,
    case_id: str,
    content: bytes | None,
    *,
    filename: str = "photo.jpg",
    token: str | None = None,
    **fields: str,
) -> Any:
    """Send the case page's upload form as a browser does: text fields first, then the file."""
    page = browser.get(f"/cases/{case_id}")
    data = {"csrf_token": csrf_of(page.text) if token is None else token, **fields}
    files = {"file": (filename, content if content is not None else b"", "application/octet-stream")}
    return browser.post(f"/cases/{case_id}/evidence", data=data, files=files, follow_redirects=False)


def _api_evidence(browser: TestClient, who: Account, case_id: str) -> list[dict[str, Any]]:
    response = browser.get(f"{API}/cases/{case_id}/evidence", headers=who.headers)
    assert response.status_code == 200
    return list(response.json())


def test_upload_shows_the_digest_size_and_type_on_the_case_page(
    world: World, browser: TestClient, documenter: Account
) -> None:
    sign_in(browser, documenter, lang="be")
    photo = make_jpeg(color=(10, 120, 200))
    response = _upload(
        browser, world.case, photo, description="Фота загада", captured_on="19.04.2022", captured_time="10:30"
    )
    assert response.status_code == 303
    target = response.headers["location"]
    assert target.startswith(f"/cases/{world.case}?notice=evidence_received#evidence-")
    page = browser.get(target).text
    assert f"sha256:{hashlib.sha256(photo).hexdigest()}" in page
    assert "image/jpeg" in page
    assert "Фота загада" in page
    assert f"{len(photo)} байт" in page.replace("\xa0", " ")
    stored = [e for e in _api_evidence(browser, documenter, world.case) if e["description"] == "Фота загада"]
    assert len(stored) == 1
    assert stored[0]["digest"] == f"sha256:{hashlib.sha256(photo).hexdigest()}"
    assert stored[0]["captured_at"].startswith("2022-04-19T07:30:00")  # 10:30 in Minsk
    assert stored[0]["kind"] == "photo"
    assert "19 красавіка 2022" in page.replace("\xa0", " ") or "19 кра 2022" in page.replace("\xa0", " ")
    assert "10:30 (UTC+3)" in page


def test_a_day_without_a_time_is_shown_as_the_day(
    world: World, browser: TestClient, documenter: Account
) -> None:
    sign_in(browser, documenter)
    assert (
        _upload(
            browser, world.case, b"%PDF-1.4 x", description="Day only", captured_on="2022-04-20"
        ).status_code
        == 303
    )
    page = browser.get(f"/cases/{world.case}").text
    assert "Apr 20, 2022</dd>" in page and "(UTC+3)" not in page
    assert "<dd>10 bytes</dd>" in page, "a small file's size in bytes, once"


def test_the_custody_timeline_and_download_link_follow_the_role(
    world: World, browser_factory: Callable[[], TestClient], documenter: Account, researcher: Account
) -> None:
    owner = sign_in(browser_factory(), documenter)
    page = owner.get(f"/cases/{world.case}").text
    assert f'href="/evidence/{world.evidence}/content"' in page
    download = owner.get(f"/evidence/{world.evidence}/content")
    assert download.status_code == 200
    assert download.content == make_jpeg()
    assert download.headers["repr-digest"].startswith("sha-256=:")
    after = owner.get(f"/cases/{world.case}").text
    assert re.search(r"Custody: 2 events", after), "received, then downloaded"
    assert "downloaded" in after

    reader = sign_in(browser_factory(), researcher)
    seen = reader.get(f"/cases/{world.case}").text
    assert world.evidence in seen and "sha256:" in seen
    assert f'href="/evidence/{world.evidence}/content"' not in seen
    assert 'enctype="multipart/form-data"' not in seen, "researchers cannot upload"
    assert reader.get(f"/evidence/{world.evidence}/content").status_code == 403


def test_photo_metadata_and_file_names_do_not_reach_a_researcher(
    world: World, browser_factory: Callable[[], TestClient], documenter: Account, researcher: Account
) -> None:
    owner = sign_in(browser_factory(), documenter)
    assert (
        _upload(
            owner, world.case, make_jpeg(size=(8, 8)), filename=f"{CANARY_LATIN} passport.jpg"
        ).status_code
        == 303
    )
    assert CANARY_LATIN in owner.get(f"/cases/{world.case}").text, "the uploader may see the file name"
    reader = sign_in(browser_factory(), researcher)
    for url in (f"/cases/{world.case}", f"/cases/{world.case}/print"):
        page = reader.get(url).text
        for secret in (CANARY_LATIN, PHOTO_SERIAL, PHOTO_POSITION, "53.9011"):
            assert secret not in page, (url, secret)


def test_an_empty_file_or_none_keeps_the_description(
    world: World, browser: TestClient, documenter: Account
) -> None:
    sign_in(browser, documenter)
    empty = _upload(
        browser, world.case, b"", filename="blank.jpg", description="Пусты файл", source="тэлефон"
    )
    assert empty.status_code == 422
    assert "The file is empty" in empty.text
    assert 'value="Пусты файл"' in empty.text and 'value="тэлефон"' in empty.text
    assert 'id="e-file"' in empty.text
    none = _upload(browser, world.case, None, filename="", description="Без файла")
    assert none.status_code == 422
    assert "Choose a file to upload." in none.text and 'value="Без файла"' in none.text
    assert len(_api_evidence(browser, documenter, world.case)) == 1, "nothing was filed"


def test_bad_fields_are_shown_next_to_them_and_nothing_is_stored(
    world: World, browser: TestClient, documenter: Account
) -> None:
    sign_in(browser, documenter)
    response = _upload(
        browser,
        world.case,
        b"%PDF-1.4 a small document",
        description="Пастанова суда",
        kind="painting",
        captured_on="31.02.2022",
        captured_time="25:61",
    )
    assert response.status_code == 422
    html = response.text
    assert 'value="Пастанова суда"' in html
    for name in ("kind", "captured_on", "captured_time"):
        assert f'id="e-{name}"' in html, name
    assert "Browsers do not keep a chosen file" in html
    future = _upload(browser, world.case, b"text", description="Заўтра", captured_on="2999-01-01")
    assert future.status_code == 422 and 'id="e-captured_on"' in future.text
    assert len(_api_evidence(browser, documenter, world.case)) == 1


def test_a_file_over_the_limit_is_refused_with_the_form_kept(
    make_settings: Callable[..., Settings], documenter: Account
) -> None:
    settings = make_settings(max_upload_bytes=2048)
    with TestClient(create_app(settings), raise_server_exceptions=False) as browser:
        case = create_case(browser, documenter, title="Вялікі файл")
        sign_in(browser, documenter)
        # Just over the limit: the body is read and the writer refuses it.
        near = _upload(browser, case["id"], b"x" * 4096, description="Крыху завялікі")
        assert near.status_code == 413
        assert 'value="Крыху завялікі"' in near.text and 'id="e-file"' in near.text
        assert "larger than the upload limit" in near.text
        # Far over the limit: refused from Content-Length, only the start of the body is read.
        far = _upload(browser, case["id"], b"y" * (3 * 1024 * 1024), description="Вельмі вялікі")
        assert far.status_code == 413
        assert 'value="Вельмі вялікі"' in far.text
        assert _api_evidence(browser, documenter, case["id"]) == []
        leftovers = [p for p in settings.evidence_dir.rglob("*") if p.is_file() and p.stat().st_size >= 2048]
        assert leftovers == [], "nothing of the refused bodies stays in the store"


def test_a_forged_upload_stores_nothing(world: World, browser: TestClient, documenter: Account) -> None:
    sign_in(browser, documenter)
    response = _upload(browser, world.case, b"forged bytes", token="not-the-token", description="Падробка")
    assert response.status_code == 403
    assert len(_api_evidence(browser, documenter, world.case)) == 1
    elsewhere = browser.post(
        f"/cases/{world.case}/evidence",
        data={"csrf_token": csrf_of(browser.get(f"/cases/{world.case}").text)},
        files={"file": ("a.txt", b"abc", "text/plain")},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert elsewhere.status_code == 403
    assert len(_api_evidence(browser, documenter, world.case)) == 1


def test_uploads_follow_the_case_rules(
    world: World, browser_factory: Callable[[], TestClient], documenter2: Account, researcher: Account
) -> None:
    stranger = sign_in(browser_factory(), documenter2)
    token = csrf_of(stranger.get("/").text)
    refused = stranger.post(
        f"/cases/{world.case}/evidence",
        data={"csrf_token": token},
        files={"file": ("a.txt", b"abc", "text/plain")},
        follow_redirects=False,
    )
    assert refused.status_code == 404
    reader = sign_in(browser_factory(), researcher)
    token = csrf_of(reader.get("/").text)
    refused = reader.post(
        f"/cases/{world.case}/evidence",
        data={"csrf_token": token},
        files={"file": ("a.txt", b"abc", "text/plain")},
        follow_redirects=False,
    )
    assert refused.status_code == 403
