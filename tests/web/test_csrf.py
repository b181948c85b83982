"""Every form is protected against cross-site requests: a token bound to the session, and the Origin check."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.context import AppContext
from tests.conftest import PASSWORD, Account
from tests.web.conftest import csrf_of, sign_in

CASE = {"title": "Cross-site case", "occurred_from": "2022-04-19", "country": "BY", "action": "submit"}


def _cases(ctx: AppContext) -> int:
    with ctx.db.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM case_record")).scalar_one())


def test_a_form_without_its_token_is_refused_and_changes_nothing(
    browser: TestClient, documenter: Account, ctx: AppContext
) -> None:
    sign_in(browser, documenter)
    response = browser.post("/cases/new", data=CASE, follow_redirects=False)
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert _cases(ctx) == 0


def test_a_token_of_another_session_is_refused(
    browser_factory: Callable[[], TestClient], documenter: Account, documenter2: Account, ctx: AppContext
) -> None:
    attacker = sign_in(browser_factory(), documenter2)
    foreign_token = csrf_of(attacker.get("/cases/new").text)
    victim = sign_in(browser_factory(), documenter)
    response = victim.post("/cases/new", data={**CASE, "csrf_token": foreign_token}, follow_redirects=False)
    assert response.status_code == 403
    assert _cases(ctx) == 0


def test_a_post_from_another_site_is_refused_even_with_a_token(
    browser: TestClient, documenter: Account, ctx: AppContext
) -> None:
    sign_in(browser, documenter)
    token = csrf_of(browser.get("/cases/new").text)
    for header in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/x"},
    ):
        response = browser.post(
            "/cases/new", data={**CASE, "csrf_token": token}, headers=header, follow_redirects=False
        )
        assert response.status_code == 403, header
    assert _cases(ctx) == 0
    same_site = browser.post(
        "/cases/new",
        data={**CASE, "csrf_token": token},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert same_site.status_code == 303
    assert _cases(ctx) == 1


def test_the_sign_in_form_needs_its_cookie_token(browser: TestClient, documenter: Account) -> None:
    response = browser.post(
        "/login",
        data={"username": documenter.username, "password": PASSWORD, "csrf_token": "x" * 43},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_every_form_on_every_page_carries_a_token(browser: TestClient, admin: Account) -> None:
    sign_in(browser, admin)
    for url in ("/", "/cases/new", "/people/new", "/organisations", "/admin/users"):
        html = browser.get(url).text
        assert html.count('method="post"') == html.count('name="csrf_token"'), url


def test_pages_forbid_framing_inline_script_and_foreign_form_targets(
    browser: TestClient, documenter: Account
) -> None:
    sign_in(browser, documenter)
    for url in ("/login", "/", "/cases/new", "/people"):
        response = browser.get(url)
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "<script>" not in response.text and "style=" not in response.text
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "same-origin"
