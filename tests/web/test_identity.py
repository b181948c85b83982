"""A witness's name never reaches a page that should not show it: researchers never see it anywhere, and
even those allowed see it only on the person's own page, with each showing in the audit log."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.context import AppContext
from tests.conftest import Account
from tests.web.conftest import sign_in
from tests.web.test_pages import PAGES, fill
from tests.web.world import CANARY, CANARY_LATIN, World, build_world

PHONE = "+375291112233"


@pytest.fixture
def world(browser: TestClient, documenter: Account) -> World:
    return build_world(browser, documenter)


def _leaks(html: str) -> list[str]:
    return [secret for secret in (CANARY, CANARY_LATIN, PHONE, "Канарэйка") if secret in html]


@pytest.mark.parametrize("lang", ["be", "ru", "en"])
def test_no_page_a_researcher_can_open_shows_an_identity(
    lang: str, world: World, browser: TestClient, researcher: Account
) -> None:
    sign_in(browser, researcher, lang=lang)
    for path in PAGES:
        response = browser.get(fill(path, world))
        assert _leaks(response.text) == [], path
    person_page = browser.get(f"/people/{world.person}")
    assert "Witness K-7" in person_page.text


def test_documenter_sees_the_name_only_on_the_persons_own_page(
    world: World, browser: TestClient, documenter: Account
) -> None:
    sign_in(browser, documenter)
    for path in PAGES:
        if path in ("/people/{person}", "/people/{person}/edit"):
            continue
        assert _leaks(browser.get(fill(path, world)).text) == [], path
    person_page = browser.get(f"/people/{world.person}").text
    assert CANARY in person_page and CANARY_LATIN in person_page and PHONE in person_page


def test_the_printable_sheet_never_prints_a_name_even_for_a_coordinator(
    world: World, browser: TestClient, coordinator: Account
) -> None:
    sign_in(browser, coordinator)
    sheet = browser.get(f"/cases/{world.case}/print").text
    assert "Witness K-7" in sheet
    assert _leaks(sheet) == []


def test_showing_an_identity_is_written_to_the_audit_log(
    world: World,
    browser_factory: Callable[[], TestClient],
    documenter: Account,
    researcher: Account,
    ctx: AppContext,
) -> None:
    def identity_reads() -> int:
        with ctx.db.engine.connect() as conn:
            query = "SELECT count(*) FROM audit_event WHERE action = 'identity.read' AND target_id = :p"
            return int(conn.execute(sa.text(query), {"p": world.person}).scalar_one())

    before = identity_reads()
    sign_in(browser_factory(), researcher).get(f"/people/{world.person}")
    documenter_browser = sign_in(browser_factory(), documenter)
    documenter_browser.get("/people")
    documenter_browser.get(f"/cases/{world.case}")
    assert identity_reads() == before, "lists and case pages open no identity"
    documenter_browser.get(f"/people/{world.person}")
    assert identity_reads() == before + 1
