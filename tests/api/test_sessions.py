"""Sessions and tokens: the list a person sees, ending one or all others, an admin ending all, disabling."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.phone import token_for
from tests.conftest import Account
from tests.factories import API, ok


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _signed_in(client: TestClient, who: Account, agent: str, ip: str | None = None) -> str:
    headers = {"User-Agent": agent}
    if ip:
        headers["X-Forwarded-For"] = ip
    response = client.post(
        f"{API}/auth/token",
        data={"username": who.username, "password": "correct horse battery staple"},
        headers=headers,
    )
    return str(ok(response)["access_token"])


def test_the_list_shows_created_last_used_client_and_a_coarse_address(
    make_settings,
    documenter: Account,  # type: ignore[no-untyped-def]
) -> None:
    from api.main import create_app

    with TestClient(create_app(make_settings(trust_proxy_headers=True))) as client:
        laptop = _signed_in(client, documenter, "Mozilla/5.0 (Tor Browser)", "203.0.113.77")
        ok(client.get(f"{API}/auth/me", headers=_bearer(laptop)))
        listed = ok(client.get(f"{API}/auth/sessions", headers=_bearer(laptop)))
    mine = [s for s in listed if s["current"]]
    assert len(mine) == 1
    assert mine[0]["client"] == "Mozilla/5.0 (Tor Browser)"
    assert mine[0]["address"] == "203.0.113.0/24"  # never the full address
    assert mine[0]["created_at"] and mine[0]["last_used_at"] and mine[0]["kind"] == "session"
    assert any(s["kind"] == "api" for s in listed)  # the script token of the seeded account
    assert "203.0.113.77" not in str(listed)


def test_ending_one_session_refuses_it_on_its_next_request(client: TestClient, documenter: Account) -> None:
    phone = _signed_in(client, documenter, "phone")
    laptop = _signed_in(client, documenter, "laptop")
    listed = ok(client.get(f"{API}/auth/sessions", headers=_bearer(laptop)))
    phone_id = next(s["id"] for s in listed if s["client"] == "phone")
    assert client.delete(f"{API}/auth/sessions/{phone_id}", headers=_bearer(laptop)).status_code == 204
    assert client.get(f"{API}/auth/me", headers=_bearer(phone)).status_code == 401
    assert client.get(f"{API}/auth/me", headers=_bearer(laptop)).status_code == 200


def test_one_cannot_end_someone_elses_session(
    client: TestClient, documenter: Account, researcher: Account
) -> None:
    theirs = _signed_in(client, researcher, "theirs")
    their_id = next(
        s["id"] for s in ok(client.get(f"{API}/auth/sessions", headers=_bearer(theirs))) if s["current"]
    )
    assert client.delete(f"{API}/auth/sessions/{their_id}", headers=documenter.headers).status_code == 404
    assert client.get(f"{API}/auth/me", headers=_bearer(theirs)).status_code == 200


def test_ending_all_others_keeps_only_this_one(client: TestClient, documenter: Account) -> None:
    others = [_signed_in(client, documenter, f"device {i}") for i in range(3)]
    here = _signed_in(client, documenter, "here")
    ended = ok(client.delete(f"{API}/auth/sessions", headers=_bearer(here)))
    assert ended["ended"] == 4  # three sessions and the script token
    assert all(client.get(f"{API}/auth/me", headers=_bearer(t)).status_code == 401 for t in others)
    assert client.get(f"{API}/auth/me", headers=documenter.headers).status_code == 401
    assert [s["client"] for s in ok(client.get(f"{API}/auth/sessions", headers=_bearer(here)))] == ["here"]


def test_an_admin_ends_every_session_of_an_account_at_once(
    client: TestClient, admin: Account, documenter: Account
) -> None:
    session = _signed_in(client, documenter, "laptop")
    response = client.delete(f"{API}/users/{documenter.user_id}/sessions", headers=admin.headers)
    assert ok(response)["ended"] == 2
    assert client.get(f"{API}/auth/me", headers=_bearer(session)).status_code == 401
    assert client.get(f"{API}/auth/me", headers=documenter.headers).status_code == 401
    assert token_for(client, documenter.username).status_code == 200  # they may sign in again


def test_only_admins_end_other_peoples_sessions(
    client: TestClient, coordinator: Account, documenter: Account
) -> None:
    response = client.delete(f"{API}/users/{documenter.user_id}/sessions", headers=coordinator.headers)
    assert response.status_code == 403
    assert client.get(f"{API}/auth/me", headers=documenter.headers).status_code == 200


def test_re_enabling_a_disabled_account_brings_no_token_back(
    client: TestClient, admin: Account, documenter: Account
) -> None:
    session = _signed_in(client, documenter, "laptop")
    url = f"{API}/users/{documenter.user_id}"
    ok(client.patch(url, json={"disabled": True}, headers=admin.headers))
    ok(client.patch(url, json={"disabled": False}, headers=admin.headers))
    assert client.get(f"{API}/auth/me", headers=_bearer(session)).status_code == 401
    assert client.get(f"{API}/auth/me", headers=documenter.headers).status_code == 401
    assert token_for(client, documenter.username).status_code == 200
