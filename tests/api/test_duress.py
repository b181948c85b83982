"""The duress password and an admin's reset of a second factor: what a coerced user and their admins see."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import security
from tests.api.phone import enrol, token_for
from tests.conftest import PASSWORD, Account
from tests.factories import API, create_case, create_person, ok

DURESS = "blue kettle on the windowsill"
NAME = "Аляксандр Ярашук"


def _set_duress(client: TestClient, who: Account, duress: str = DURESS, password: str = PASSWORD) -> Any:
    return client.put(
        f"{API}/auth/duress-password",
        json={"password": password, "duress_password": duress},
        headers=who.headers,
    )


def _duress_set(client: TestClient, who: Account) -> None:
    response = _set_duress(client, who)
    assert response.status_code == 204, response.text


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _audit(client: TestClient, admin: Account, action: str) -> list[dict[str, Any]]:
    return ok(client.get(f"{API}/audit", params={"action": action}, headers=admin.headers))["items"]


def test_setting_it_needs_the_current_password_and_a_strong_different_one(
    client: TestClient, documenter: Account
) -> None:
    assert _set_duress(client, documenter, password="not my password").status_code == 422
    assert _set_duress(client, documenter, duress="aaaaaaaaaaaa").status_code == 422
    same = _set_duress(client, documenter, duress=PASSWORD)
    assert same.status_code == 422 and same.json()["errors"][0]["type"] == "same_as_password"
    assert _set_duress(client, documenter).status_code == 204


def test_a_duress_sign_in_answers_like_any_sign_in_and_shows_an_empty_workspace(
    client: TestClient, documenter: Account
) -> None:
    create_case(client, documenter)
    create_person(client, documenter, identity={"full_name": NAME})
    assert ok(client.get(f"{API}/cases", headers=documenter.headers))["items"]
    _duress_set(client, documenter)
    normal, forced = token_for(client, documenter.username), token_for(client, documenter.username, DURESS)
    assert forced.status_code == normal.status_code == 200
    assert set(forced.json()) == set(normal.json())
    bearer = _bearer(forced.json()["access_token"])
    assert ok(client.get(f"{API}/cases", headers=bearer))["items"] == []
    assert ok(client.get(f"{API}/people", headers=bearer))["items"] == []
    assert NAME not in client.get(f"{API}/search", params={"q": "Ярашук"}, headers=bearer).text


def test_it_ends_every_other_session_and_suspends_identities_and_exports(
    client: TestClient, documenter: Account
) -> None:
    earlier = ok(token_for(client, documenter.username))["access_token"]
    _duress_set(client, documenter)
    forced = ok(token_for(client, documenter.username, DURESS))["access_token"]
    assert client.get(f"{API}/auth/me", headers=_bearer(earlier)).status_code == 401
    assert client.get(f"{API}/auth/me", headers=documenter.headers).status_code == 401  # the script token too
    permissions = ok(client.get(f"{API}/auth/me", headers=_bearer(forced)))["permissions"]
    assert "person:read_identity" not in permissions and "export:bundle" not in permissions
    assert "evidence:download" not in permissions
    # Signing in with the real password later does not bring the workspace back: only an admin does.
    later = ok(token_for(client, documenter.username))["access_token"]
    assert (
        "person:read_identity" not in ok(client.get(f"{API}/auth/me", headers=_bearer(later)))["permissions"]
    )


def test_it_takes_as_many_password_checks_as_a_normal_sign_in(
    client: TestClient, documenter: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    _duress_set(client, documenter)
    calls: list[int] = []
    real = security.verify_password

    def counting(password_hash: str | None, password: str) -> bool:
        calls.append(1)
        return real(password_hash, password)

    monkeypatch.setattr("api.auth.service.verify_password", counting)
    counts = []
    for password in (PASSWORD, DURESS, "wrong wrong wrong"):
        calls.clear()
        token_for(client, documenter.username, password)
        counts.append(len(calls))
    assert counts == [2, 2, 2]


def test_admins_are_alerted_at_once_and_only_another_admin_lifts_it(
    client: TestClient, admin: Account, documenter: Account
) -> None:
    _duress_set(client, documenter)
    forced = ok(token_for(client, documenter.username, DURESS))["access_token"]
    alerts = _audit(client, admin, "duress.signed_in")
    assert [a["target_id"] for a in alerts] == [str(documenter.user_id)]
    listed = ok(client.get(f"{API}/users", headers=admin.headers))
    assert next(u for u in listed if u["username"] == documenter.username)["duress_at"]
    assert (
        client.delete(f"{API}/users/{documenter.user_id}/duress", headers=_bearer(forced)).status_code == 403
    )
    ok(client.delete(f"{API}/users/{documenter.user_id}/duress", headers=admin.headers))
    assert _audit(client, admin, "duress.lifted")
    assert "person:read_identity" in ok(client.get(f"{API}/auth/me", headers=_bearer(forced)))["permissions"]


def test_an_admin_in_duress_reads_no_audit_log(client: TestClient, admin: Account) -> None:
    _duress_set(client, admin)
    forced = ok(token_for(client, admin.username, DURESS))["access_token"]
    assert client.get(f"{API}/audit", headers=_bearer(forced)).status_code == 403


def test_an_admin_resets_a_second_factor_and_the_user_must_enrol_again(
    client: TestClient, admin: Account, documenter: Account, researcher: Account
) -> None:
    enrol(client, documenter)
    assert (
        client.delete(f"{API}/users/{documenter.user_id}/2fa", headers=researcher.headers).status_code == 403
    )
    reset = ok(client.delete(f"{API}/users/{documenter.user_id}/2fa", headers=admin.headers))
    assert reset["totp_enabled_at"] is None
    [entry] = _audit(client, admin, "second_factor.reset")
    assert entry["actor_id"] == str(admin.user_id) and entry["target_id"] == str(documenter.user_id)
    fresh = ok(token_for(client, documenter.username))["access_token"]
    again = ok(client.post(f"{API}/auth/2fa/totp", headers=_bearer(fresh)))  # a new secret to scan
    assert again["secret"]
