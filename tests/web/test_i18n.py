"""Three languages: chosen per user, from the switcher or from Accept-Language; complete catalogs; Belarusian
that is Belarusian; names in Cyrillic and Latin scripts sorted as readers expect."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from api import i18n
from api.web.collation import sort_key
from tests.conftest import Account
from tests.web.conftest import post_form, sign_in, switch_language

WEB = i18n.LOCALE_DIR.parent
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _catalog(lang: str):  # type: ignore[no-untyped-def]
    with (WEB / "locale" / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def _source_messages() -> set[str | tuple[str, ...]]:
    """Every translatable string in the code and templates, extracted as `make messages` does."""
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {
        "templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "True", "lstrip_blocks": "True"}
    }
    found: set[str | tuple[str, ...]] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(WEB), method_map, options_map=options
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


@pytest.mark.parametrize("lang", ["be", "ru"])
def test_every_string_of_the_interface_is_translated(lang: str) -> None:
    catalog = _catalog(lang)
    translated = {
        (m.id if isinstance(m.id, str) else tuple(m.id))
        for m in catalog
        if m.id and m.string and all(m.string if isinstance(m.string, tuple) else [m.string])
    }
    missing = sorted(str(m) for m in _source_messages() - translated)
    assert missing == [], f"untranslated in {lang}: run `make messages` and translate"


@pytest.mark.parametrize("lang", ["be", "ru"])
def test_translations_keep_their_placeholders(lang: str) -> None:
    for message in _catalog(lang):
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        targets = [message.string] if isinstance(message.string, str) else list(message.string)
        for target in targets:
            assert set(_PLACEHOLDER.findall(target)) <= set(_PLACEHOLDER.findall(source)) | {"num"}, (
                message.id
            )


def test_belarusian_is_belarusian_not_russian() -> None:
    # Belarusian has no и, щ, ъ; it has і and ў. A Russian string pasted in would show the former.
    strings = [m.string if isinstance(m.string, str) else " ".join(m.string) for m in _catalog("be") if m.id]
    russian_letters = [s for s in strings if re.search(r"[иИщЩъЪ]", s)]
    assert russian_letters == []
    assert sum("ў" in s or "і" in s for s in strings) > len(strings) / 3
    assert not any(
        re.search(r"[іІўЎ]", m.string if isinstance(m.string, str) else " ".join(m.string))
        for m in _catalog("ru")
        if m.id
    )


def test_a_stranger_gets_the_language_of_their_browser(browser: TestClient) -> None:
    page = browser.get("/login", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert '<html lang="ru">' in page.text and "Войти" in page.text
    assert page.headers["content-language"] == "ru"
    page = browser.get("/login", headers={"Accept-Language": "be;q=0.8, de, ru;q=0.5"})
    assert "Увайсці" in page.text
    assert '<html lang="en">' in browser.get("/login", headers={"Accept-Language": "de-DE"}).text


def test_the_switcher_works_before_signing_in_without_javascript(browser: TestClient) -> None:
    # Tor Browser always sends en-US: the switcher on the sign-in page is how a Belarusian user gets Belarusian.
    headers = {"Accept-Language": "en-US,en;q=0.5"}
    response = post_form(browser, "/language", {"lang": "be", "next": "/login"}, form_url="/login")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "Уваход у Precedent" in browser.get("/login", headers=headers).text


def test_a_users_choice_follows_them_to_another_browser(
    browser_factory: Callable[[], TestClient], documenter: Account
) -> None:
    first = sign_in(browser_factory(), documenter)
    switch_language(first, "be")
    assert "Мае справы" in first.get("/").text
    second = sign_in(browser_factory(), documenter)
    assert "Мае справы" in second.get("/", headers={"Accept-Language": "en"}).text
    switch_language(second, "ru")
    assert "Мои дела" in second.get("/").text


def test_an_unknown_language_changes_nothing(browser: TestClient, documenter: Account) -> None:
    sign_in(browser, documenter)
    response = post_form(browser, "/language", {"lang": "xx", "next": "/"}, form_url="/")
    assert response.status_code == 303
    assert "My cases" in browser.get("/", headers={"Accept-Language": "en"}).text


def test_dates_and_countries_are_written_in_the_page_language(
    browser: TestClient, documenter: Account
) -> None:
    sign_in(browser, documenter, lang="be")
    page = post_form(
        browser,
        "/cases/new",
        {"title": "Звальненне", "occurred_from": "2022-04-19", "country": "BY", "action": "submit"},
    )
    html = browser.get(page.headers["location"]).text
    assert "19 красавіка 2022" in html and "Беларусь" in html


def test_country_names_in_the_select_follow_the_alphabet_of_the_page(
    browser: TestClient, documenter: Account
) -> None:
    sign_in(browser, documenter, lang="be")
    html = browser.get("/cases/new").text
    select = html.split('id="f-country"')[1].split("</select>")[0]
    names = re.findall(r">([^<]+)</option>", select)
    assert names == sorted(names, key=sort_key)
    assert (
        names.index("Украіна") < names.index("Узбекістан") < names.index("Ўоліс і Футуна")
        if "Ўоліс і Футуна" in names
        else True
    )


class TestNameOrder:
    def test_belarusian_letters_sort_in_the_alphabets_order(self) -> None:
        names = ["Яўген", "Ўладзімір", "Іван", "Ёсіф", "Ева", "Алесь", "Уладзь", "Фёдар", "Ирина"]
        assert sorted(names, key=sort_key) == [
            "Алесь",
            "Ева",
            "Ёсіф",
            "Ирина",
            "Іван",
            "Уладзь",
            "Ўладзімір",
            "Фёдар",
            "Яўген",
        ]

    def test_latin_before_cyrillic_and_accents_after_the_plain_letter(self) -> None:
        names = ["Зміцер", "Zoë", "zoe", "Émile", "Eve", "Ales", "Øyvind", "Oleg"]
        assert sorted(names, key=sort_key) == [
            "Ales",
            "Émile",
            "Eve",
            "Oleg",
            "Øyvind",
            "zoe",
            "Zoë",
            "Зміцер",
        ]

    def test_case_and_punctuation_do_not_split_a_name(self) -> None:
        ordered = sorted(["Анна", "Андрэй", "Ан-на", "Антон", "анна"], key=sort_key)
        assert ordered[0] == "Андрэй" and ordered[-1] == "Антон"
        assert ordered[1] == "анна"  # lower case first among equals; "Ан-на" sorts with "Анна"

    def test_people_in_a_form_are_listed_in_reading_order(
        self, browser: TestClient, documenter: Account
    ) -> None:
        from tests.factories import create_case, create_person

        for pseudonym in ("Ўладзь", "Яна", "Алесь", "Zed", "Іна"):
            create_person(browser, documenter, pseudonym=pseudonym, identity=None)
        case = create_case(browser, documenter)
        sign_in(browser, documenter)
        html = browser.get(f"/cases/{case['id']}/involvements/new").text
        select = html.split('id="f-person_id"')[1].split("</select>")[0]
        assert re.findall(r'value="[0-9a-f-]{36}"[^>]*>([^<]+)<', select) == [
            "Zed",
            "Алесь",
            "Іна",
            "Ўладзь",
            "Яна",
        ]
