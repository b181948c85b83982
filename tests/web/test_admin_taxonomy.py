"""Local taxonomy nodes from the administration pages: added under any category, chosen on the case form,
refused with the input kept when a name is in the wrong language or the code exists."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.factories import API
from tests.web.conftest import post_form, sign_in

NODE = {
    "parent": "C.DIS",
    "slug": "Night-Shifts",
    "labels.en": "Punitive night shifts",
    "labels.be": "Карныя начныя змены",
    "labels.ru": "Карательные ночные смены",
    "definition.en": "A union member is moved to night shifts as a punishment.",
    "definition.be": "",
    "definition.ru": "",
}


@pytest.fixture
def admin_browser(browser: TestClient, admin: Account) -> TestClient:
    return sign_in(browser, admin)


def test_an_admin_adds_a_category_that_documenters_can_then_choose(
    admin_browser: TestClient, admin: Account, documenter: Account
) -> None:
    response = post_form(admin_browser, "/admin/taxonomy", NODE)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/taxonomy?notice=local_node_added#node-C.DIS.x-night-shifts"
    page = admin_browser.get(response.headers["location"]).text
    assert "<code>C.DIS.x-night-shifts</code>" in page and "Punitive night shifts" in page
    node = admin_browser.get(f"{API}/taxonomy/C.DIS.x-night-shifts", headers=admin.headers).json()
    assert node["node"]["local"] is True and node["node"]["labels"]["be"] == "Карныя начныя змены"
    sign_in(admin_browser, documenter, lang="be")
    form = admin_browser.get("/cases/new").text
    assert re.search(r'name="categories" value="C.DIS.x-night-shifts"', form)
    assert "Карныя начныя змены" in form


def test_a_name_in_the_wrong_language_or_a_taken_code_comes_back_with_the_input_kept(
    admin_browser: TestClient,
) -> None:
    wrong = post_form(admin_browser, "/admin/taxonomy", {**NODE, "labels.be": "Ночные смены и штрафы"})
    assert wrong.status_code == 422
    assert 'id="e-labels.be"' in wrong.text
    assert 'value="Punitive night shifts"' in wrong.text and 'value="Night-Shifts"' in wrong.text
    assert re.search(r'<option value="C.DIS" selected>', wrong.text)
    assert post_form(admin_browser, "/admin/taxonomy", NODE).status_code == 303
    taken = post_form(admin_browser, "/admin/taxonomy", NODE)
    assert taken.status_code == 422 and 'id="e-slug"' in taken.text
    nowhere = post_form(admin_browser, "/admin/taxonomy", {**NODE, "parent": "", "slug": "bad slug!"})
    assert 'id="e-parent"' in nowhere.text and 'id="e-slug"' in nowhere.text
    unknown = post_form(admin_browser, "/admin/taxonomy", {**NODE, "parent": "Z.NOPE", "slug": "other"})
    assert unknown.status_code == 422 and 'id="e-parent"' in unknown.text


def test_only_admins_add_categories(browser: TestClient, coordinator: Account) -> None:
    sign_in(browser, coordinator)
    token_page = browser.get("/")
    assert 'href="/admin/taxonomy"' not in token_page.text
    from tests.web.conftest import csrf_of

    refused = browser.post(
        "/admin/taxonomy", data={**NODE, "csrf_token": csrf_of(token_page.text)}, follow_redirects=False
    )
    assert refused.status_code == 403
