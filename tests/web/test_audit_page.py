"""The audit log page, for admins, without JavaScript: a GET form of filters, a table naming accounts and
roles, next-page links that keep the filters, and the same events as CSV. Plus the walk of every page: no
page shows a sealed name without an identity.read event, and a refused page is itself in the log."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from api.context import AppContext
from api.web.pages import admin as admin_pages
from tests import leaks
from tests.api.test_identity_door import events_since, identity_read_recorded, last_event_id
from tests.conftest import Account
from tests.web import test_pages
from tests.web.conftest import sign_in
from tests.web.world import CANARY, CANARY_LATIN, World, build_world

ROLES = ("admin", "coordinator", "documenter", "documenter2", "researcher")


@pytest.fixture
def world(browser_factory: Callable[[], TestClient], documenter: Account) -> World:
    return build_world(browser_factory(), documenter)


@pytest.fixture
def admin_browser(browser_factory: Callable[[], TestClient], admin: Account) -> TestClient:
    return sign_in(browser_factory(), admin)


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


def test_the_page_lists_who_opened_which_identity_with_account_and_role(
    world: World, admin_browser: TestClient, browser_factory: Callable[[], TestClient], coordinator: Account
) -> None:
    sign_in(browser_factory(), coordinator).get(f"/people/{world.person}")
    page = admin_browser.get("/admin/audit", params={"action": "identity.read", "target_id": world.person})
    assert page.status_code == 200
    rows = _rows(page.text)
    coordinator_rows = [r for r in rows if "coordinator" in r]
    assert len(coordinator_rows) == 1
    assert "Coordinator" in coordinator_rows[0] and "Identity opened" in coordinator_rows[0]
    assert f'href="/people/{world.person}"' in coordinator_rows[0]
    assert "shown" in coordinator_rows[0]
    assert leaks.find(page.content, [CANARY, CANARY_LATIN]) == []


def test_the_page_works_without_javascript(
    world: World, admin_browser: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin_pages, "AUDIT_PAGE_SIZE", 2)
    page = admin_browser.get("/admin/audit")
    assert "<script" not in page.text
    assert re.search(r'<form class="filters" method="get" action="/admin/audit"', page.text)
    # The filters are a plain GET form; the next page is a plain link that keeps them.
    filtered = admin_browser.get("/admin/audit", params={"target_type": "person", "action": "identity.read"})
    first = _rows(filtered.text)
    assert len(first) == 2
    link = re.search(r'href="(/admin/audit\?[^"]*cursor=[^"]*)"', filtered.text)
    assert link, "no next-page link"
    next_url = link.group(1).replace("&amp;", "&")
    assert "target_type=person" in next_url and "action=identity.read" in next_url
    second = _rows(admin_browser.get(next_url).text)
    assert second and not set(second) & set(first)
    # The chosen filters stay chosen.
    assert '<option value="person" selected>' in filtered.text
    assert '<option value="identity.read" selected>' in filtered.text


def test_the_csv_link_gives_the_events_the_filters_show(world: World, admin_browser: TestClient) -> None:
    page = admin_browser.get("/admin/audit", params={"action": "identity.read"})
    link = re.search(r'href="(/admin/audit\.csv[^"]*)"', page.text)
    assert link
    response = admin_browser.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows and {r["action"] for r in rows} == {"identity.read"}
    assert leaks.find(response.content, [CANARY, CANARY_LATIN]) == []


def test_a_mistyped_date_comes_back_next_to_its_field_with_the_filters_kept(
    admin_browser: TestClient,
) -> None:
    page = admin_browser.get("/admin/audit", params={"from": "yesterday", "action": "login."})
    assert page.status_code == 422
    assert 'id="e-from"' in page.text
    assert 'value="yesterday"' in page.text
    assert '<option value="login." selected>' in page.text


def test_the_page_is_translated(admin_browser: TestClient) -> None:
    from tests.web.conftest import switch_language

    switch_language(admin_browser, "be")
    page = admin_browser.get("/admin/audit")
    assert "Журнал аўдыту" in page.text


@pytest.mark.parametrize("role", ["coordinator", "documenter", "researcher"])
def test_only_admins_get_the_page_and_a_refusal_is_recorded(
    role: str,
    ctx: AppContext,
    browser_factory: Callable[[], TestClient],
    accounts: dict[str, Account],
) -> None:
    browser = sign_in(browser_factory(), accounts[role])
    before = last_event_id(ctx)
    for url in ("/admin/audit", "/admin/audit.csv"):
        response = browser.get(url)
        assert response.status_code == 403
        assert "Audit log" not in response.text.split("<main", 1)[1]
    denied = events_since(ctx, before, action="access.denied", actor_id=accounts[role].user_id)
    assert [e.details["route"] for e in denied] == ["/admin/audit", "/admin/audit.csv"]


def test_a_strangers_404_page_is_recorded(
    world: World, ctx: AppContext, browser_factory: Callable[[], TestClient], documenter2: Account
) -> None:
    browser = sign_in(browser_factory(), documenter2)
    before = last_event_id(ctx)
    assert browser.get(f"/cases/{world.case}").status_code == 404
    [event] = events_since(ctx, before, action="access.denied")
    assert (event.actor_id, event.target_type, event.target_id) == (documenter2.user_id, "case", world.case)
    assert event.details == {"route": "/cases/{case_id}", "method": "GET", "status": 404}


@pytest.mark.parametrize("role", ROLES)
def test_no_page_shows_an_identity_without_an_identity_read_event(
    role: str,
    ctx: AppContext,
    world: World,
    browser_factory: Callable[[], TestClient],
    accounts: dict[str, Account],
) -> None:
    browser = sign_in(browser_factory(), accounts[role])
    shown = 0
    for path in test_pages.PAGES:
        before = last_event_id(ctx)
        response = browser.get(test_pages.fill(path, world))
        if leaks.find(response.content, [CANARY, CANARY_LATIN]):
            shown += 1
            assert identity_read_recorded(ctx, before, accounts[role].user_id, world.person), (role, path)
    # The walk is not blind: the person's page shows the name to the roles that may read it.
    assert shown >= (1 if role in ("admin", "coordinator", "documenter") else 0)
