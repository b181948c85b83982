"""Every page for every role: who gets the page, who gets 403 or 404, and that strangers are sent to sign in.

The table must name every GET page the web interface serves: a new page without an entry fails the first
test, so nobody adds a page without deciding who may see it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

import api.db
from api.web import routes as web_routes
from tests import media_files
from tests.conftest import Account
from tests.factories import create_case, upload
from tests.test_db import drop_every_other_connection, needs_postgres
from tests.web.conftest import sign_in
from tests.web.world import World, build_world

ROLES = ("admin", "coordinator", "documenter", "documenter2", "researcher")
ALL = dict.fromkeys(ROLES, 200)
# documenter2 is a documenter who neither created nor was assigned to the world's case.
OWN_CASE = {**ALL, "documenter2": 404}
WRITE_CASE = {**OWN_CASE, "researcher": 403}
WRITERS = {**ALL, "researcher": 403}
ADMINS = dict.fromkeys(ROLES, 403) | {"admin": 200}
COORDINATORS = dict.fromkeys(ROLES, 403) | {"admin": 200, "coordinator": 200}

PAGES: dict[str, dict[str, int]] = {
    "/": ALL,
    "/cases": ALL,
    "/cases/new": WRITERS,
    "/cases/{case}": OWN_CASE,
    "/cases/{case}/edit": WRITE_CASE,
    "/cases/{case}/retract": WRITE_CASE,
    "/cases/{case}/history": OWN_CASE,
    "/cases/{case}/print": OWN_CASE,
    "/cases/{case}/involvements/new": WRITE_CASE,
    "/cases/{case}/testimonies/new": WRITE_CASE,
    "/cases/{case}/evidence/new": WRITE_CASE,
    # Researchers may see evidence and its digests but not download the bytes.
    "/evidence/{evidence}/content": {**OWN_CASE, "researcher": 403},
    "/people": ALL,
    "/people/new": WRITERS,
    "/people/{person}": OWN_CASE,
    "/people/{person}/edit": WRITE_CASE,
    "/people/{person}/consents/new": WRITE_CASE,
    "/people/{person}/consents/{consent}/withdraw": WRITE_CASE,
    "/cases/{case}/export": {**OWN_CASE, "researcher": 403},
    "/cases/{case}/export/bundle": {**OWN_CASE, "researcher": 403},
    "/cases/{case}/export/sheet": {**OWN_CASE, "researcher": 403},
    "/cases/{case}/export/ituc": COORDINATORS,
    "/cases/{case}/export/huridocs": COORDINATORS,
    "/cases/{case}/clearing": COORDINATORS,
    "/evidence/{recording}/review": COORDINATORS,
    "/organisations": ALL,
    "/search": ALL,
    "/stats": ALL,
    "/stats.csv": ALL,
    "/admin/users": ADMINS,
    "/admin/taxonomy": ADMINS,
    "/admin/audit": ADMINS,
    "/admin/audit.csv": ADMINS,
    "/account/2fa": ALL,
    "/account/sessions": ALL,
    "/account/duress": ALL,
}
# Pages checked elsewhere: the sign-in form is public (test_sessions); a draft redirects to its form (test_forms).
# The second step of signing in needs a password step first (test_second_factor).
UNMATRIXED = {"/login", "/login/code", "/drafts/{draft_id}"}


def _walk(router: Any) -> Iterator[APIRoute]:
    for route in router.routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _walk(route.original_router)


def page_paths() -> set[str]:
    """Every GET path of the web interface, with its parameters named as in PAGES."""
    paths = set()
    for route in _walk(web_routes.router):
        if "GET" in route.methods:
            paths.add(re.sub(r"\{(case|person|consent|evidence|recording)_id\}", r"{\1}", route.path))
    return paths


def fill(path: str, world: World) -> str:
    return path.format(
        case=world.case,
        person=world.person,
        consent=world.consent,
        evidence=world.evidence,
        recording=world.recording,
    )


@pytest.fixture
def world(browser: TestClient, documenter: Account) -> World:
    built = build_world(browser, documenter)
    elsewhere = create_case(browser, documenter, title="Запіс сходу")
    built.recording = upload(browser, documenter, elsewhere["id"], media_files.audio_flac(0.2))["id"]
    return built


def test_every_page_has_an_access_rule() -> None:
    served = page_paths()
    assert served - set(PAGES) - UNMATRIXED == set(), "pages without a rule"
    assert set(PAGES) - served == set(), "rules for pages that do not exist"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_the_pages_it_may_see(
    role: str,
    world: World,
    browser_factory: Callable[[], TestClient],
    accounts: dict[str, Account],
) -> None:
    browser = sign_in(browser_factory(), accounts[role])
    got = {path: browser.get(fill(path, world), follow_redirects=False).status_code for path in PAGES}
    assert got == {path: rule[role] for path, rule in PAGES.items()}


def test_strangers_are_sent_to_sign_in_and_come_back(world: World, browser: TestClient) -> None:
    for path in PAGES:
        response = browser.get(fill(path, world), follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=%2F"), path


def test_error_pages_are_pages_not_problem_documents(
    world: World, browser: TestClient, documenter2: Account
) -> None:
    sign_in(browser, documenter2)
    for url in (f"/cases/{world.case}", "/cases/not-a-uuid", "/admin/users"):
        response = browser.get(url)
        assert response.headers["content-type"].startswith("text/html"), url
        assert "Traceback" not in response.text
        assert "<h1>" in response.text


def test_a_web_page_whose_connection_was_lost_answers_503_and_the_reload_works(
    database_url: str, browser: TestClient, researcher: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_postgres(database_url)
    sign_in(browser, researcher)
    assert browser.get("/cases").status_code == 200
    monkeypatch.setattr(api.db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    assert drop_every_other_connection(database_url) >= 1
    lost = browser.get("/cases")
    assert lost.status_code == 503
    assert lost.headers["retry-after"] == "1"
    assert browser.get("/cases").status_code == 200
