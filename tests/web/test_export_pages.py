"""The exports page: audiences, what is withheld for lack of consent, downloads made by the same functions as
the API's exports (and recorded like them), never a name without consent."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.factories import API, make_jpeg
from tests.web.conftest import sign_in
from tests.web.world import CANARY, CANARY_LATIN, World, build_world


@pytest.fixture
def world(browser: TestClient, documenter: Account) -> World:
    return build_world(browser, documenter)


def test_the_page_shows_who_would_be_withheld_for_each_audience(
    world: World, browser: TestClient, coordinator: Account
) -> None:
    sign_in(browser, coordinator)
    partner = browser.get(f"/cases/{world.case}/export")
    assert partner.status_code == 200
    assert '<option value="partner" selected>' in partner.text, "partners by default, never identities"
    assert "<tr><td>Witness K-7</td><td>name, " in partner.text, (
        "no consent for partners: the name is withheld"
    )
    ilo = browser.get(f"/cases/{world.case}/export", params={"audience": "ilo"})
    assert "<tr><td>Witness K-7</td><td>contacts</td>" in ilo.text, (
        "consent for the ILO: only contacts stay out"
    )
    for page in (partner.text, ilo.text):
        assert CANARY not in page and CANARY_LATIN not in page
    assert f'href="/cases/{world.case}/export/bundle?audience=ilo"' in ilo.text
    assert "/export/ituc" in ilo.text and "/export/huridocs" in ilo.text


def test_a_documenter_gets_the_bundle_with_the_photo_and_its_digest(
    world: World, browser: TestClient, documenter: Account
) -> None:
    sign_in(browser, documenter)
    page = browser.get(f"/cases/{world.case}/export").text
    assert "/export/ituc" not in page, "documenters make bundles and sheets only"
    response = browser.get(f"/cases/{world.case}/export/bundle", params={"audience": "partner"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert int(response.headers["x-withheld-count"]) >= 1
    with zipfile.ZipFile(io.BytesIO(response.content)) as bag:
        names = bag.namelist()
        assert any(n.endswith("bagit.txt") for n in names)
        manifest = next(n for n in names if n.endswith("manifest-sha256.txt") and "tag" not in n)
        digests = bag.read(manifest).decode()
        everything = b"".join(bag.read(n) for n in names)
    # A partner gets the photo without its GPS and serial: a working copy, listed with its own digest.
    assert len(digests.splitlines()) >= 2
    assert CANARY.encode() not in everything and CANARY_LATIN.encode() not in everything
    record = browser.get(f"{API}/exports/{response.headers['x-export-id']}", headers=documenter.headers)
    assert record.status_code == 200
    assert record.json()["sha256"] == hashlib.sha256(response.content).hexdigest()
    assert record.json()["audience"] == "partner"


def test_an_internal_bundle_carries_the_original_photo(
    world: World, browser: TestClient, documenter: Account
) -> None:
    sign_in(browser, documenter)
    response = browser.get(f"/cases/{world.case}/export/bundle", params={"audience": "internal"})
    with zipfile.ZipFile(io.BytesIO(response.content)) as bag:
        manifest = next(n for n in bag.namelist() if n.endswith("/manifest-sha256.txt"))
        assert hashlib.sha256(make_jpeg()).hexdigest() in bag.read(manifest).decode()


def test_coordinator_exports_are_the_api_exports(
    world: World, browser: TestClient, coordinator: Account
) -> None:
    sign_in(browser, coordinator)
    csv = browser.get(f"/cases/{world.case}/export/ituc")
    assert csv.headers["content-type"].startswith("text/csv")
    api_csv = browser.get(f"{API}/exports/ituc", params={"case_id": world.case}, headers=coordinator.headers)
    assert csv.content == api_csv.content
    esf = browser.get(f"/cases/{world.case}/export/huridocs", params={"audience": "partner"})
    assert esf.headers["content-type"] == "application/json"
    consented = browser.get(f"/cases/{world.case}/export/huridocs", params={"audience": "ilo"})
    assert CANARY in consented.text, "the witness consented to be named to the ILO"
    sheet = browser.get(f"/cases/{world.case}/export/sheet", params={"audience": "public"})
    assert sheet.status_code == 200 and "Witness K-7" in sheet.text
    assert (
        "sandbox" in sheet.headers["content-security-policy"]
        or "default-src" in sheet.headers["content-security-policy"]
    )
    for body in (csv.text, esf.text, sheet.text):
        assert CANARY not in body and CANARY_LATIN not in body
    xlsx = browser.get(f"/cases/{world.case}/export/ituc", params={"format": "xlsx"})
    assert xlsx.content[:2] == b"PK"


def test_who_may_export(
    world: World, browser_factory: Callable[[], TestClient], researcher: Account, documenter2: Account
) -> None:
    reader = sign_in(browser_factory(), researcher)
    assert reader.get(f"/cases/{world.case}/export").status_code == 403
    assert reader.get(f"/cases/{world.case}/export/bundle").status_code == 403
    assert 'href="/cases/' + world.case + '/export"' not in reader.get(f"/cases/{world.case}").text
    stranger = sign_in(browser_factory(), documenter2)
    assert stranger.get(f"/cases/{world.case}/export").status_code == 404
    assert stranger.get(f"/cases/{world.case}/export/bundle").status_code == 404


def test_the_page_says_in_belarusian_what_a_coordinator_must_clear_before_a_first_ilo_submission(
    world: World, browser: TestClient, coordinator: Account
) -> None:
    sign_in(browser, coordinator, lang="be")
    page = browser.get(f"/cases/{world.case}/export", params={"audience": "ilo"}).text
    assert "Што выходзіць і што каардынатар павінен спачатку ачысціць" in page
    assert "не ачышчаны: утрымліваецца" in page  # no text of the case is cleared yet
    assert "копія, зробленая з выявы" in page  # the photo leaves only as a copy made from its pixels
    assert f'href="/cases/{world.case}/clearing?audience=ilo"' in page
    inside = browser.get(f"/cases/{world.case}/export", params={"audience": "internal"}).text
    assert "спачатку ачысціць" not in inside  # inside the organisation nothing needs clearing
