"""Passwords: at least 12 characters and not easy to guess, refused with a reason in be, ru or en."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api import i18n
from api.auth import passwords
from tests.conftest import Account
from tests.factories import API


def _create(client: TestClient, admin: Account, password: str, lang: str = "en") -> object:
    return client.post(
        f"{API}/users",
        json={"username": "newone", "role": "documenter", "password": password},
        headers={**admin.headers, "Accept-Language": lang},
    )


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("aaaaaaaaaaaa", passwords.REPEATS),
        (" " * 12, passwords.REPEATS),
        ("short pw", passwords.TOO_SHORT),
        ("password1234", passwords.COMMON),
        ("abcdefghijklmn", passwords.SEQUENCE),
        ("newone-newone-1", passwords.USERNAME),
    ],
)
def test_weak_passwords_are_a_422_problem_naming_why(
    client: TestClient, admin: Account, password: str, reason: str
) -> None:
    response = _create(client, admin, password)
    assert response.status_code == 422  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["type"].endswith("/invalid-input")
    assert body["errors"] == [{"field": "password", "message": reason, "type": "weak_password"}]


def test_a_strong_password_is_accepted(client: TestClient, admin: Account) -> None:
    assert _create(client, admin, "quiet lantern orbit thistle").status_code == 201  # type: ignore[attr-defined]


@pytest.mark.parametrize(("lang", "words"), [("be", "паўтарае"), ("ru", "повторяет")])
def test_the_reason_comes_in_the_callers_language(
    client: TestClient, admin: Account, lang: str, words: str
) -> None:
    message = _create(client, admin, "aaaaaaaaaaaa", lang).json()["errors"][0]["message"]  # type: ignore[attr-defined]
    assert words in message


@pytest.mark.parametrize("lang", ["be", "ru"])
def test_every_reason_is_translated(lang: str) -> None:
    with i18n.activated(lang):
        for reason in passwords.REASONS:
            assert i18n.gettext(reason) != reason
