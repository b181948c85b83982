"""The search and statistics pages: the API's filters as a GET form, results with excerpts, keyset pages,
the taxonomy tree with counts, SVG bars with the table beside, bad filters shown next to their fields."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.factories import API, add_testimony, create_case, create_person, involve, ok
from tests.web.conftest import sign_in
from tests.web.world import CANARY, World, build_world


@pytest.fixture
def world(browser: TestClient, documenter: Account) -> World:
    return build_world(browser, documenter)


@pytest.fixture
def cases(browser: TestClient, documenter: Account) -> list[str]:
    """Five Belarusian cases, two dismissals at Naftan, one arrest in Grodno, two in 2021."""
    made = [
        create_case(
            browser,
            documenter,
            title=f"Звальненне рабочага № {n} на «Нафтане»",
            summary="Звольнены пасля сходу першаснай арганізацыі прафсаюза.",
            occurred_from="2022-04-19",
            employer="ААТ Нафтан",
            region="Віцебская вобласць",
            categories=["C.DIS.DISMISSAL"],
            language="be",
        )["id"]
        for n in (1, 2)
    ]
    made.append(
        create_case(
            browser,
            documenter,
            title="Затрыманне старшыні ў Гродне",
            occurred_from="2022-05",
            region="Гродзенская вобласць",
            categories=["A.LIB.ARREST"],
            language="be",
        )["id"]
    )
    for n in (1, 2):
        made.append(
            create_case(
                browser, documenter, title=f"Ціск на сябра прафсаюза {n}", occurred_from="2021", country="BY"
            )["id"]
        )
    return made


def _titles(html: str) -> list[str]:
    return [
        unescape(t)
        for t in re.findall(r'<article class="hit">\s*<h3><a href="/cases/[^"]+"[^>]*>([^<]+)</a>', html)
    ]


def test_words_find_cases_with_the_matched_words_marked(
    cases: list[str], browser: TestClient, researcher: Account, coordinator: Account
) -> None:
    found = [
        "Звальненне рабочага № 1 на «Нафтане»",
        "Звальненне рабочага № 2 на «Нафтане»",
    ]
    sign_in(browser, researcher, lang="be")
    page = browser.get("/search", params={"q": "звольнены сходу"})
    assert page.status_code == 200
    assert sorted(_titles(page.text)) == found
    assert 'value="звольнены сходу"' in page.text, "the words stay in the form"
    assert "<mark>" not in page.text, "researchers get no excerpt of a text no coordinator cleared"
    sign_in(browser, coordinator, lang="be")
    page = browser.get("/search", params={"q": "звольнены сходу"})
    assert sorted(_titles(page.text)) == found
    assert "<mark>Звольнены</mark>" in page.text


def test_filters_combine_and_the_tree_shows_counts(
    cases: list[str], browser: TestClient, researcher: Account
) -> None:
    sign_in(browser, researcher)
    page = browser.get(
        "/search", params={"date_from": "2022", "date_to": "2022", "region": "віцебская вобласць"}
    )
    assert len(_titles(page.text)) == 2
    # Counts beside the tree follow the other filters: two dismissals in Vitebsk region, no arrest.
    assert re.search(r'<label for="cat-C.DIS.DISMISSAL">[^<]*<span class="count">\(2\)</span>', page.text)
    assert re.search(r'<label for="cat-A.LIB.ARREST">[^<]*<span class="count">\(0\)</span>', page.text)
    by_category = browser.get("/search", params={"category": "A", "date_from": "01.01.2022"})
    assert _titles(by_category.text) == ["Затрыманне старшыні ў Гродне"]
    assert re.search(r'value="A" checked', by_category.text)
    assert "<details open>" in by_category.text


def test_past_the_count_cap_the_tree_shows_no_counts_and_says_more_than(
    cases: list[str], browser: TestClient, researcher: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.search import service

    monkeypatch.setattr(service, "COUNT_CAP", 1)  # as a search with more than 1,000 matches
    sign_in(browser, researcher)
    page = browser.get("/search", params={"date_from": "2022", "date_to": "2022"})
    assert len(_titles(page.text)) > 1
    assert "More than 1 cases found." in unescape(page.text)
    assert 'class="count"' not in page.text  # counting every node's cases would slow every page


def test_pages_follow_with_a_next_link_until_the_end(
    browser_factory: Callable[[], TestClient], documenter: Account, researcher: Account
) -> None:
    browser = browser_factory()
    for n in range(23):
        create_case(browser, documenter, title=f"Справа для старонак {n:02d}", occurred_from="2020")
    sign_in(browser, researcher)
    seen: list[str] = []
    url = "/search?date_to=2020&sort=newest"
    pages = 0
    while url:
        html = browser.get(url).text
        seen += _titles(html)
        pages += 1
        match = re.search(r'<a class="button secondary" href="([^"]+)">Next page</a>', html)
        url = unescape(match.group(1)) if match else ""
        if url:
            assert "date_to=2020" in url and "cursor=" in url
    assert pages == 2
    assert sorted(seen) == sorted(f"Справа для старонак {n:02d}" for n in range(23))


def test_bad_filters_come_back_next_to_their_fields(
    cases: list[str], browser: TestClient, researcher: Account
) -> None:
    sign_in(browser, researcher)
    page = browser.get(
        "/search",
        params={"date_from": "2022-13", "victims_min": "many", "q": "Нафтан", "category": "Z.NOPE"},
    )
    assert page.status_code == 200
    for name in ("date_from", "victims_min"):
        assert re.search(rf'<p class="error" id="e-{name}">', page.text), name
    assert 'value="Нафтан"' in page.text and 'value="2022-13"' in page.text
    reversed_dates = browser.get("/search", params={"date_from": "2023", "date_to": "2021"})
    assert re.search(r'<p class="error" id="e-date_from">', reversed_dates.text)
    unknown = browser.get("/search", params={"category": "Z.NOPE"})
    assert "Z.NOPE" in unknown.text and 'class="error-summary"' in unknown.text
    bad_cursor = browser.get("/search", params={"q": "Нафтан", "cursor": "forged"})
    assert bad_cursor.status_code == 200 and 'class="error-summary"' in bad_cursor.text


def test_a_researcher_never_sees_a_witness_name_in_search(
    world: World, browser: TestClient, documenter: Account, researcher: Account
) -> None:
    # The canary's name is also typed into a testimony text by mistake: search shows it only where the text
    # itself is visible (testimonies are), never from the sealed identity.
    person = create_person(browser, documenter, pseudonym="Сведка Б", identity={"full_name": CANARY})
    case = create_case(browser, documenter, title="Пагрозы сведку", occurred_from="2023")
    involve(browser, documenter, case["id"], person_id=person["id"], role="victim")
    add_testimony(browser, documenter, case["id"], person["id"])
    sign_in(browser, researcher)
    for params in ({"q": "Канарэйка"}, {"q": "Пагрозы"}, {"date_from": "2000"}, {"role": "victim"}):
        html = browser.get("/search", params=params).text
        assert CANARY not in html and "Канарэйка Сцяпанаўна" not in html, params
    assert _titles(browser.get("/search", params={"q": "Канарэйка"}).text) == []


def test_statistics_draw_bars_with_the_table_beside(
    cases: list[str], browser: TestClient, researcher: Account
) -> None:
    sign_in(browser, researcher, lang="ru")
    page = browser.get("/stats", params={"group_by": "year"})
    assert page.status_code == 200
    html = page.text
    rows = re.findall(r'<tr><td>(\d{4})</td><td class="num">(\d+)</td>', html)
    assert rows == [("2021", "2"), ("2022", "3")]
    bars = re.findall(r'<rect x="0" y="(\d+)" width="([\d.]+)"', html)
    assert len(bars) == 2 and float(bars[1][1]) > float(bars[0][1]), "2022 has the longer bar"
    assert "<script" not in html and "style=" not in html
    by_status = browser.get("/stats", params={"group_by": "category", "region": "ВІЦЕБСКАЯ вобласць"})
    assert "ВІЦЕБСКАЯ вобласць" in by_status.text, "the filter stays in the form"
    assert re.search(r'<code class="muted">C.DIS.DISMISSAL</code></td><td class="num">2</td>', by_status.text)
    csv = browser.get("/stats.csv", params={"group_by": "year"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert "2021" in csv.text and "2022" in csv.text
    bad = browser.get("/stats", params={"group_by": "planet"})
    assert 'id="e-group_by"' in bad.text


def test_search_results_match_the_api(cases: list[str], browser: TestClient, researcher: Account) -> None:
    sign_in(browser, researcher)
    params = {"q": "прафсаюза", "date_from": "2021", "sort": "date"}
    api = browser.get(f"{API}/cases", params=params, headers=researcher.headers).json()
    html = browser.get("/search", params=params).text
    assert _titles(html) == [c["title"] for c in api["items"]]


def test_control_characters_in_web_search_boxes_are_dropped_not_crashing(
    browser: TestClient, documenter: Account
) -> None:
    sign_in(browser, documenter)
    ok(browser.post(f"{API}/people", json={"pseudonym": "Witness NUL-1"}, headers=documenter.headers), 201)
    for page in ("/people", "/search"):
        response = browser.get(page, params={"q": "Witness\x00 NUL\u202e-1"})
        assert response.status_code in (200, 422), (page, response.status_code)
        assert "Internal error" not in response.text
    listed = browser.get("/people", params={"q": "NUL\x00-1"})
    assert "Witness NUL-1" in listed.text
