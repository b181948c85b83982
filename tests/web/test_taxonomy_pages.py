"""The taxonomy without JavaScript: the picker on the case form (areas folded in <details>, names in the page
language, ticks kept on errors) and the categories on the case page with the norms they concern."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.factories import API
from tests.web.conftest import csrf_of, sign_in

FORM = {
    "title": "Звальненне за ўдзел у сходзе",
    "occurred_from": "19.04.2022",
    "country": "BY",
    "status": "draft",
    "confidentiality": "internal",
    "action": "submit",
}


def _node(browser: TestClient, who: Account, code: str) -> dict[str, Any]:
    response = browser.get(f"{API}/taxonomy/{code}", headers=who.headers)
    assert response.status_code == 200
    return dict(response.json())


def _post(browser: TestClient, **fields: str | list[str]) -> Any:
    token = csrf_of(browser.get("/cases/new").text)
    return browser.post("/cases/new", data={**FORM, **fields, "csrf_token": token}, follow_redirects=False)


@pytest.fixture
def doc(browser: TestClient, documenter: Account) -> TestClient:
    return sign_in(browser, documenter, lang="be")


def test_the_picker_lists_every_current_category_by_its_belarusian_name(
    doc: TestClient, documenter: Account
) -> None:
    tree = doc.get(f"{API}/taxonomy", headers=documenter.headers).json()

    def codes(nodes: list[dict[str, Any]]) -> list[str]:
        return [c for n in nodes for c in (n["code"], *codes(n["children"]))]

    html = doc.get("/cases/new").text
    boxes = re.findall(r'<input type="checkbox" id="cat-[^"]+" name="categories" value="([^"]+)"', html)
    assert boxes == codes(tree)
    assert len(re.findall(r'type="radio" id="main-', html)) == len(boxes)
    assert html.count("<details") == len(tree), "one folded area each"
    assert " open>" not in html and "<details open" not in html, "nothing chosen, nothing unfolded"
    arrest = _node(doc, documenter, "A.LIB.ARREST")["node"]["labels"]
    assert arrest["be"] in html and arrest["ru"] not in html
    assert "<script" not in html


def test_ticked_categories_and_the_main_one_are_recorded(doc: TestClient, documenter: Account) -> None:
    response = _post(doc, categories=["A.LIB.ARREST", "A.LIB.ADMIN"], primary_category="A.LIB.ADMIN")
    assert response.status_code == 303, response.text
    case_id = response.headers["location"].split("/")[2].split("?")[0]
    case = doc.get(f"{API}/cases/{case_id}", headers=documenter.headers).json()
    assert sorted(case["categories"]) == ["A.LIB.ADMIN", "A.LIB.ARREST"]
    assert case["primary_category"] == "A.LIB.ADMIN"

    edit = doc.get(f"/cases/{case_id}/edit").text
    assert re.search(r'value="A.LIB.ARREST" checked', edit) and re.search(
        r'value="A.LIB.ADMIN" checked', edit
    )
    assert re.search(r'id="main-A.LIB.ADMIN" name="primary_category" value="A.LIB.ADMIN" checked', edit)
    assert "<details open>" in edit, "the area holding the chosen categories is unfolded"


def test_the_case_page_names_categories_and_the_norms_they_concern(
    doc: TestClient, documenter: Account
) -> None:
    response = _post(doc, categories=["A.LIB.ARREST", "A.LIB.CRIMINAL"])
    case_id = response.headers["location"].split("/")[2].split("?")[0]
    page = doc.get(f"/cases/{case_id}").text
    arrest = _node(doc, documenter, "A.LIB.ARREST")
    criminal = _node(doc, documenter, "A.LIB.CRIMINAL")
    assert arrest["node"]["labels"]["be"] in page and criminal["node"]["labels"]["be"] in page
    # Each norm of the data with its verification marker: C87 arts 2-3 (inferred ✱), C87 art 8(2) (seen ✔).
    for norm in arrest["node"]["norms"] + criminal["node"]["norms"]:
        ref = norm["reference"]
        if ref["kind"] == "ilo_instrument":
            assert f"{ref['instrument']}" in page
            assert norm["marker"] in page
    assert "МАП C87, арт. 8(2)" in page
    assert re.search(r'<span class="marker" title="[^"]+">✔</span> МАП C87, арт. 8\(2\)', page)
    assert re.search(r"<span class=\"marker\" title=\"[^\"]+\">✱</span> МАП C87, арт. 2, 3", page)
    # Inherited from the area (CFA Compilation chapter 2) and shown once.
    assert page.count("Зборнік рашэнняў КСА (2018), гл. 2") >= 1


def test_an_unknown_code_comes_back_with_the_ticks_kept(doc: TestClient) -> None:
    response = _post(doc, categories=["A.LIB.ARREST", "Z.NOPE"], summary="Захавана")
    assert response.status_code == 422
    html = response.text
    assert re.search(r'value="A.LIB.ARREST" checked', html)
    assert 'class="categories invalid"' in html and "Z.NOPE" in html
    assert "Захавана" in html
    assert "<details open>" in html
