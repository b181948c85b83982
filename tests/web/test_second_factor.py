"""The second factor on the web, JavaScript off: enrolment with a server-drawn QR code, sign-in in two steps."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.api.phone import Phone, enrol
from tests.conftest import PASSWORD, Account
from tests.web.conftest import csrf_of, post_form, sign_in

_SECRET = re.compile(r'<code class="secret">([A-Z2-7 ]+)</code>')


def _enrol_on_the_web(browser: TestClient, who: Account) -> tuple[Phone, str]:
    sign_in(browser, who)
    started = post_form(browser, "/account/2fa", {})
    assert started.status_code == 303
    page = browser.get("/account/2fa")
    assert "<svg" in page.text and "<script" not in page.text
    secret = _SECRET.search(page.text)
    assert secret, "the secret is shown as text"
    phone = Phone(f"otpauth://totp/x?secret={secret.group(1).replace(' ', '')}")
    done = browser.post("/account/2fa/confirm", data={"code": phone.code(), "csrf_token": csrf_of(page.text)})
    return phone, done.text


def _password_step(browser: TestClient, who: Account, next_: str = "/") -> object:
    return post_form(browser, "/login", {"username": who.username, "password": PASSWORD, "next": next_})


def test_enrolment_shows_an_inline_svg_qr_code_and_the_secret_then_ten_recovery_codes(
    browser: TestClient, documenter: Account
) -> None:
    _, done = _enrol_on_the_web(browser, documenter)
    assert len(re.findall(r"<li><code>[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}</code></li>", done)) == 10
    assert "shown only this once" in done


def test_a_wrong_code_at_enrolment_leaves_it_off_and_says_why(
    browser: TestClient, documenter: Account
) -> None:
    sign_in(browser, documenter)
    post_form(browser, "/account/2fa", {})
    page = browser.get("/account/2fa")
    response = browser.post("/account/2fa/confirm", data={"code": "12345", "csrf_token": csrf_of(page.text)})
    assert response.status_code == 422
    assert "The code does not match" in response.text


def test_sign_in_asks_for_the_code_as_a_second_step(
    browser_factory,
    documenter: Account,  # type: ignore[no-untyped-def]
) -> None:
    phone, _ = _enrol_on_the_web(browser_factory(), documenter)
    browser = browser_factory()
    step = _password_step(browser, documenter, "/cases")
    assert step.status_code == 200  # type: ignore[attr-defined]
    assert 'name="otp"' in step.text and "precedent_session" not in browser.cookies  # type: ignore[attr-defined]
    assert browser.get("/cases", follow_redirects=False).status_code == 303  # not signed in yet
    done = browser.post(
        "/login/code",
        data={"otp": phone.code(steps=1), "next": "/cases", "csrf_token": csrf_of(step.text)},  # type: ignore[attr-defined]
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/cases"
    assert browser.get("/cases").status_code == 200


def test_a_wrong_code_shows_the_code_form_again(browser_factory, documenter: Account) -> None:  # type: ignore[no-untyped-def]
    _enrol_on_the_web(browser_factory(), documenter)
    browser = browser_factory()
    step = _password_step(browser, documenter)
    wrong = browser.post("/login/code", data={"otp": "000000", "csrf_token": csrf_of(step.text)})  # type: ignore[attr-defined]
    assert wrong.status_code == 401
    assert "The code is wrong" in wrong.text and 'name="otp"' in wrong.text


def test_a_recovery_code_signs_in_once(client: TestClient, browser_factory, documenter: Account) -> None:  # type: ignore[no-untyped-def]
    _, codes = enrol(client, documenter)
    for expected in (303, 401):
        browser = browser_factory()
        step = _password_step(browser, documenter)
        done = browser.post(
            "/login/code",
            data={"otp": codes[0], "csrf_token": csrf_of(step.text)},  # type: ignore[attr-defined]
            follow_redirects=False,
        )
        assert done.status_code == expected


def test_the_code_step_without_a_password_step_goes_back_to_the_password(browser: TestClient) -> None:
    page = browser.get("/login")
    response = browser.post(
        "/login/code", data={"otp": "123456", "csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_a_weak_password_is_refused_on_the_web_with_its_reason_in_belarusian(
    browser: TestClient, admin: Account
) -> None:
    sign_in(browser, admin, lang="be")
    response = post_form(
        browser, "/admin/users", {"username": "newone", "role": "documenter", "password": "aaaaaaaaaaaa"}
    )
    assert response.status_code == 422
    assert "Пароль паўтарае знакі або словы" in response.text


def test_the_sessions_page_lists_sessions_and_ends_all_others(
    browser_factory,
    documenter: Account,  # type: ignore[no-untyped-def]
) -> None:
    other = sign_in(browser_factory(), documenter)
    here = sign_in(browser_factory(), documenter)
    page = here.get("/account/sessions")
    assert page.status_code == 200 and "this one" in page.text and "testclient" in page.text
    response = post_form(here, "/account/sessions/others/end", {}, form_url="/account/sessions")
    assert response.status_code == 303
    assert other.get("/", follow_redirects=False).status_code == 303  # sent to sign in again
    assert here.get("/").status_code == 200


def test_ending_this_browsers_own_session_signs_it_out(browser: TestClient, documenter: Account) -> None:
    sign_in(browser, documenter)
    page = browser.get("/account/sessions")
    current = re.search(
        r'action="/account/sessions/([0-9a-f-]+)/end"[^<]*<input[^>]*>\s*<button[^>]*>Sign out', page.text
    )
    assert current, page.text
    response = browser.post(
        f"/account/sessions/{current.group(1)}/end",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert browser.get("/", follow_redirects=False).status_code == 303


def test_an_admin_ends_all_sessions_of_an_account_from_the_users_page(
    browser_factory,
    admin: Account,
    documenter: Account,  # type: ignore[no-untyped-def]
) -> None:
    theirs = sign_in(browser_factory(), documenter)
    mine = sign_in(browser_factory(), admin)
    response = post_form(mine, f"/admin/users/{documenter.user_id}/sessions/end", {}, form_url="/admin/users")
    assert response.status_code == 303
    assert theirs.get("/", follow_redirects=False).status_code == 303
