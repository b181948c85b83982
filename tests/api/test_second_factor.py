"""TOTP through the API: enrolment, the otp-required answer, codes once with a step either side, recovery codes."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.context import AppContext
from tests.api.phone import Phone, enrol, token_for
from tests.conftest import Account
from tests.factories import API, ok


def test_enrolment_answers_a_secret_and_an_otpauth_uri(client: TestClient, documenter: Account) -> None:
    body = ok(client.post(f"{API}/auth/2fa/totp", headers=documenter.headers))
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert len(body["secret"]) >= 32


def test_confirming_with_a_code_turns_it_on_and_answers_ten_recovery_codes(
    client: TestClient, documenter: Account
) -> None:
    _, codes = enrol(client, documenter)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert token_for(client, documenter.username).status_code == 401


def test_a_wrong_confirmation_code_leaves_it_off(client: TestClient, documenter: Account) -> None:
    started = ok(client.post(f"{API}/auth/2fa/totp", headers=documenter.headers))
    wrong = "000000" if Phone(started["otpauth_uri"]).code() != "000000" else "111111"
    response = client.post(f"{API}/auth/2fa/totp/confirm", json={"code": wrong}, headers=documenter.headers)
    assert response.status_code == 422
    assert token_for(client, documenter.username).status_code == 200


def test_without_otp_the_token_endpoint_answers_otp_required(client: TestClient, documenter: Account) -> None:
    enrol(client, documenter)
    response = token_for(client, documenter.username)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/otp-required")
    assert "access_token" not in response.text


def test_a_wrong_password_is_not_told_apart_by_the_second_factor(
    client: TestClient, documenter: Account
) -> None:
    enrol(client, documenter)
    response = token_for(client, documenter.username, "not the password at all")
    assert response.status_code == 401
    assert response.json()["type"].endswith("/unauthenticated")


def test_the_current_code_issues_a_token_that_works(client: TestClient, documenter: Account) -> None:
    phone, _ = enrol(client, documenter)
    body = ok(token_for(client, documenter.username, otp=phone.code(steps=1)))
    me = ok(client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}))
    assert me["username"] == documenter.username


def test_a_code_is_accepted_once(client: TestClient, documenter: Account) -> None:
    phone, _ = enrol(client, documenter)
    code = phone.code(steps=1)  # the confirmation used the current step
    assert token_for(client, documenter.username, otp=code).status_code == 200
    replay = token_for(client, documenter.username, otp=code)
    assert replay.status_code == 401
    assert replay.json()["type"].endswith("/unauthenticated")


def test_codes_one_step_either_side_are_accepted_two_steps_are_not(
    client: TestClient, ctx: AppContext, documenter: Account
) -> None:
    phone, _ = enrol(client, documenter)
    assert token_for(client, documenter.username, otp=phone.code(steps=2)).status_code == 401
    with ctx.db.engine.begin() as conn:  # forget the confirmation's step, so the previous step may count
        conn.execute(sa.text("UPDATE user_account SET totp_last_step = NULL"))
    assert token_for(client, documenter.username, otp=phone.code(steps=-1)).status_code == 200
    assert token_for(client, documenter.username, otp=phone.code(steps=1)).status_code == 200


def test_a_recovery_code_works_once_in_place_of_a_code(client: TestClient, documenter: Account) -> None:
    _, codes = enrol(client, documenter)
    assert token_for(client, documenter.username, otp=codes[3]).status_code == 200
    assert token_for(client, documenter.username, otp=codes[3]).status_code == 401
    assert token_for(client, documenter.username, otp=codes[4].upper()).status_code == 200


def test_the_secret_is_not_stored_in_clear(client: TestClient, ctx: AppContext, documenter: Account) -> None:
    body = ok(client.post(f"{API}/auth/2fa/totp", headers=documenter.headers))
    phone = Phone(body["otpauth_uri"])
    ok(client.post(f"{API}/auth/2fa/totp/confirm", json={"code": phone.code()}, headers=documenter.headers))
    with ctx.db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM user_account")).all()
        codes = conn.execute(sa.text("SELECT code_hash FROM recovery_code")).scalars().all()
    dump = repr(rows).encode() + b"".join(
        bytes(v) for r in rows for v in r if isinstance(v, bytes | memoryview)
    )
    assert phone.secret.encode() not in dump
    assert len(codes) == 10 and all(len(c) == 64 for c in codes)


def test_enrolling_again_while_on_is_a_conflict(client: TestClient, documenter: Account) -> None:
    enrol(client, documenter)
    assert client.post(f"{API}/auth/2fa/totp", headers=documenter.headers).status_code == 409
