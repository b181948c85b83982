"""Helpers for page tests: sign a browser in, read a form's CSRF token, post forms as a browser does."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from tests.conftest import PASSWORD, Account

_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def sign_in(client: TestClient, who: Account, *, lang: str | None = None) -> TestClient:
    """Sign `client` in through the form, as a browser would."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": who.username, "password": PASSWORD, "csrf_token": csrf_of(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    if lang:
        switch_language(client, lang)
    return client


def switch_language(client: TestClient, lang: str) -> None:
    page = client.get("/")
    response = client.post(
        "/language",
        data={"lang": lang, "next": "/", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303


def post_form(client: TestClient, url: str, data: dict[str, Any], *, form_url: str | None = None) -> Any:
    """GET the form page for its token, then POST the data (without following the redirect)."""
    page = client.get(form_url or url)
    assert page.status_code == 200, page.text
    return client.post(url, data={**data, "csrf_token": csrf_of(page.text)}, follow_redirects=False)


@pytest.fixture
def browser_factory(settings: Settings) -> Iterator[Callable[[], TestClient]]:
    """Make independent browsers (cookie jars) on one application."""
    app = create_app(settings)
    clients: list[TestClient] = []

    def make() -> TestClient:
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def browser(browser_factory: Callable[[], TestClient]) -> TestClient:
    """A browser on the application, not signed in."""
    return browser_factory()
