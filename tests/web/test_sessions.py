"""Browser sessions: the cookie's flags, signing in and out, throttling, and the wall between cookie and API."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from tests.conftest import PASSWORD, Account
from tests.web.conftest import csrf_of, post_form, sign_in


def _set_cookie(response, name: str) -> str:  # type: ignore[no-untyped-def]
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert headers, f"no {name} cookie set"
    return headers[0]


def test_signing_in_sets_an_httponly_lax_session_cookie_for_the_whole_site(
    browser: TestClient, documenter: Account
) -> None:
    response = post_form(
        browser, "/login", {"username": documenter.username, "password": PASSWORD, "next": "/cases"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/cases"
    cookie = _set_cookie(response, "precedent_session").lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie and "expires=" in cookie
    assert "secure" not in cookie  # plain HTTP in this test: a Secure cookie would never come back


def test_the_cookie_is_secure_over_https(settings: Settings, documenter: Account) -> None:
    with TestClient(create_app(settings), base_url="https://testserver") as browser:
        response = post_form(browser, "/login", {"username": documenter.username, "password": PASSWORD})
        assert "; secure" in _set_cookie(response, "precedent_session").lower()


def test_a_wrong_password_shows_the_form_again_with_the_username_kept(
    browser: TestClient, documenter: Account
) -> None:
    response = post_form(browser, "/login", {"username": documenter.username, "password": "wrong password!"})
    assert response.status_code == 401
    assert f'value="{documenter.username}"' in response.text
    assert "Wrong username or password" in response.text
    assert "precedent_session" not in response.headers.get("set-cookie", "")


def test_repeated_failures_are_throttled_like_the_api(
    make_settings: Callable[..., Settings], documenter: Account
) -> None:
    with TestClient(create_app(make_settings(login_max_failures=2))) as browser:
        statuses = [
            post_form(
                browser, "/login", {"username": documenter.username, "password": "nope nope nope"}
            ).status_code
            for _ in range(4)
        ]
        assert statuses[:2] == [401, 401]
        last = post_form(browser, "/login", {"username": documenter.username, "password": PASSWORD})
        assert last.status_code == 429
        assert int(last.headers["Retry-After"]) >= 1
        assert "Too many failed attempts" in last.text


def test_signing_out_revokes_the_session_on_the_server(browser: TestClient, documenter: Account) -> None:
    sign_in(browser, documenter)
    stolen = browser.cookies.get("precedent_session")
    response = post_form(browser, "/logout", {}, form_url="/")
    assert response.status_code == 303
    assert (
        'precedent_session=""' in response.headers["set-cookie"]
        or "Max-Age=0" in response.headers["set-cookie"]
    )
    browser.cookies.set("precedent_session", stolen)
    assert browser.get("/", follow_redirects=False).status_code == 303  # the old cookie no longer opens pages


def test_a_session_cookie_never_authenticates_the_api(browser: TestClient, documenter: Account) -> None:
    sign_in(browser, documenter)
    assert browser.get("/api/v1/auth/me").status_code == 401
    token = browser.cookies.get("precedent_session")
    assert browser.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_an_api_token_does_not_open_pages(browser: TestClient, documenter: Account) -> None:
    browser.cookies.set("precedent_session", documenter.token)
    assert browser.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_a_disabled_account_loses_its_pages_at_once(
    browser_factory: Callable[[], TestClient], documenter2: Account, admin: Account
) -> None:
    victim = sign_in(browser_factory(), documenter2)
    assert victim.get("/", follow_redirects=False).status_code == 200
    admin_browser = sign_in(browser_factory(), admin)
    page = admin_browser.get("/admin/users")
    response = admin_browser.post(
        f"/admin/users/{documenter2.user_id}",
        data={"role": "documenter", "disabled": "on", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert victim.get("/", follow_redirects=False).status_code == 303


def test_after_signing_in_the_user_returns_only_to_a_page_of_this_site(
    browser: TestClient, documenter: Account
) -> None:
    for target, expected in (
        ("/cases?status=draft", "/cases?status=draft"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
    ):
        browser.cookies.clear()
        response = post_form(
            browser, "/login", {"username": documenter.username, "password": PASSWORD, "next": target}
        )
        assert response.headers["location"] == expected


def test_signed_in_users_skip_the_sign_in_form(browser: TestClient, documenter: Account) -> None:
    sign_in(browser, documenter)
    assert browser.get("/login?next=/cases", follow_redirects=False).headers["location"] == "/cases"
