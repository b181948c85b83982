"""PRECEDENT_REQUIRE_2FA: roles that may read identities read none, download nothing and export nothing until
they have a second factor; the web leads them to enrolment at sign-in."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from tests.api.phone import enrol
from tests.conftest import PASSWORD, Account
from tests.factories import API, create_case, create_person, ok, upload
from tests.web.conftest import post_form

NAME = "Аляксандр Ярашук"


@pytest.fixture
def strict(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(require_2fa=True))) as client:
        yield client


def test_it_is_on_by_default_in_production_mode_only(make_settings: Callable[..., Settings]) -> None:
    assert make_settings(mode="production").second_factor_required
    assert not make_settings().second_factor_required
    assert not make_settings(mode="production", require_2fa=False).second_factor_required


def test_without_a_second_factor_identities_downloads_and_exports_are_withheld(
    client: TestClient, strict: TestClient, documenter: Account
) -> None:
    case = create_case(client, documenter)
    person = create_person(client, documenter, identity={"full_name": NAME})
    evidence = upload(client, documenter, case["id"], b"%PDF-1.4 minutes of the meeting")
    me = ok(strict.get(f"{API}/auth/me", headers=documenter.headers))
    assert me["needs_second_factor"] is True
    assert "person:read_identity" not in me["permissions"] and "export:bundle" not in me["permissions"]
    assert NAME not in strict.get(f"{API}/people/{person['id']}", headers=documenter.headers).text
    assert (
        strict.get(f"{API}/evidence/{evidence['id']}/content", headers=documenter.headers).status_code == 403
    )
    bundle = strict.get(f"{API}/cases/{case['id']}/bundle", headers=documenter.headers)
    assert bundle.status_code == 403


def test_after_enrolling_the_same_role_reads_identities_again(
    client: TestClient, strict: TestClient, documenter: Account
) -> None:
    person = create_person(client, documenter, identity={"full_name": NAME})
    enrol(strict, documenter)
    assert ok(strict.get(f"{API}/auth/me", headers=documenter.headers))["needs_second_factor"] is False
    assert NAME in strict.get(f"{API}/people/{person['id']}", headers=documenter.headers).text


def test_a_role_that_never_reads_identities_needs_none(strict: TestClient, researcher: Account) -> None:
    me = ok(strict.get(f"{API}/auth/me", headers=researcher.headers))
    assert me["needs_second_factor"] is False and "export:research" in me["permissions"]


def test_the_web_leads_them_to_enrolment_at_sign_in(strict: TestClient, documenter: Account) -> None:
    response = post_form(
        strict, "/login", {"username": documenter.username, "password": PASSWORD, "next": "/cases"}
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/account/2fa")
    page = strict.get(response.headers["location"])
    assert "set up a second factor to read them" in page.text
