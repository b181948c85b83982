"""Throttling slows a guesser without locking anyone else out, and floods of form data are 4xx, never 500."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from tests.api.phone import enrol, token_for
from tests.conftest import Account
from tests.factories import API, ok
from tests.web.conftest import csrf_of

OFFICE = {"X-Forwarded-For": "198.51.100.20"}  # a shared office or a Tor exit: user and attacker behind it


@pytest.fixture
def office(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(trust_proxy_headers=True))) as client:
        yield client


def _guess_200_times(client: TestClient, username: str) -> list[int]:
    return [
        token_for(client, username, f"guess number {i} !", headers=OFFICE).status_code for i in range(200)
    ]


def test_200_wrong_passwords_from_the_users_address_do_not_stop_the_user(
    office: TestClient, documenter: Account
) -> None:
    phone, recovery = enrol(office, documenter)
    earlier = ok(token_for(office, documenter.username, otp=recovery[0], headers=OFFICE))
    statuses = _guess_200_times(office, documenter.username)
    # The attacker is slowed down: after five tries, one more only each time the growing wait runs out.
    assert statuses[:5] == [401] * 5 and statuses.count(429) > 180
    # The user, from the same address, shows the device token of their earlier sign-in: straight in.
    response = token_for(
        office,
        documenter.username,
        otp=phone.code(steps=1),
        device_token=earlier["device_token"],
        headers=OFFICE,
    )
    assert response.status_code == 200, response.text


def test_the_attacker_gains_nothing_by_showing_a_made_up_device_token(
    office: TestClient, documenter: Account
) -> None:
    for i in range(5):
        token_for(office, documenter.username, f"guess number {i} !", device_token="x" * 43, headers=OFFICE)
    assert token_for(office, documenter.username, device_token="y" * 43, headers=OFFICE).status_code == 429


def test_a_browser_that_signed_in_before_gets_in_despite_200_guesses_from_its_address(
    office: TestClient, documenter: Account
) -> None:
    phone, recovery = enrol(office, documenter)
    with TestClient(office.app, headers=OFFICE) as browser:  # type: ignore[arg-type]
        page = browser.get("/login")
        first = browser.post(
            "/login",
            data={
                "username": documenter.username,
                "password": "correct horse battery staple",
                "csrf_token": csrf_of(page.text),
            },
        )
        ok_first = browser.post(
            "/login/code",
            data={"otp": recovery[0], "csrf_token": csrf_of(first.text)},
            follow_redirects=False,
        )
        assert ok_first.status_code == 303
        assert browser.cookies.get("precedent_device")
        browser.cookies.delete("precedent_session")  # signed out; the device cookie stays
        assert 429 in _guess_200_times(office, documenter.username)
        with_phone_time = browser.get("/login")
        step = browser.post(
            "/login",
            data={
                "username": documenter.username,
                "password": "correct horse battery staple",
                "csrf_token": csrf_of(with_phone_time.text),
            },
        )
        assert step.status_code == 200 and 'name="otp"' in step.text
        done = browser.post(
            "/login/code",
            data={"otp": phone.code(steps=1), "csrf_token": csrf_of(step.text)},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text


def test_an_address_failing_across_accounts_is_slowed_for_unknown_accounts_only(
    make_settings: Callable[..., Settings], accounts: dict[str, Account]
) -> None:
    with TestClient(create_app(make_settings(login_ip_max_failures=3, trust_proxy_headers=True))) as client:
        ok(token_for(client, "researcher", headers=OFFICE))  # the researcher works here
        for name in ("admin", "coordinator", "documenter2"):
            assert token_for(client, name, "guess guess guess", headers=OFFICE).status_code == 401
        assert token_for(client, "nobody-such", "guess guess", headers=OFFICE).status_code == 429
        assert token_for(client, "documenter", headers=OFFICE).status_code == 429  # never signed in here
        assert token_for(client, "researcher", headers=OFFICE).status_code == 200  # known here: not slowed


@pytest.mark.parametrize("url", [f"{API}/auth/token", "/login"])
def test_1500_form_fields_are_a_4xx_never_a_500(
    client: TestClient, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = "&".join(f"f{i}=x" for i in range(1500)) + "&username=a&password=b"
    with caplog.at_level(logging.ERROR):
        response = client.post(
            url, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        multipart = client.post(url, files={f"f{i}": (None, "x") for i in range(1500)})
    assert response.status_code == 400 and multipart.status_code == 400
    if url.startswith(API):
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "/problems/bad-request"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("url", [f"{API}/auth/token", "/login"])
def test_a_2_mib_field_is_a_4xx_never_a_500(
    client: TestClient, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    huge = "x" * (2 * 1024 * 1024)
    with caplog.at_level(logging.ERROR):
        plain = client.post(url, data={"username": "admin", "password": huge})
        multipart = client.post(url, files={"username": (None, "admin"), "password": (None, huge)})
        under_the_limit = client.post(url, data={"username": "admin", "password": huge[: 1024 * 1024]})
    assert {plain.status_code, multipart.status_code} == {413}
    assert plain.headers["content-type"] == "application/problem+json"
    assert 400 <= under_the_limit.status_code < 500
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
