"""Logging in with the OAuth2 password form, tokens, logout, throttling and disabled accounts."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.models import ApiToken
from api.models.base import utcnow
from tests.conftest import PASSWORD, Account
from tests.factories import API, ok


def login(client: TestClient, username: str, password: str = PASSWORD, ip: str | None = None):
    headers = {"X-Forwarded-For": ip} if ip else {}
    return client.post(
        f"{API}/auth/token", data={"username": username, "password": password}, headers=headers
    )


class TestLogIn:
    def test_password_form_returns_a_bearer_token_that_works(
        self, client: TestClient, documenter: Account
    ) -> None:
        body = ok(login(client, "documenter"))
        assert body["token_type"] == "bearer"
        me = ok(client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}))
        assert me["username"] == "documenter"
        assert "case:create" in me["permissions"]
        assert "user:manage" not in me["permissions"]

    def test_username_is_case_insensitive(self, client: TestClient, documenter: Account) -> None:
        assert login(client, "  DocumenTer ").status_code == 200

    def test_wrong_password_is_a_401_problem(self, client: TestClient, documenter: Account) -> None:
        response = login(client, "documenter", "wrong password!!")
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "/problems/unauthenticated"
        assert response.headers["WWW-Authenticate"] == "Bearer"

    def test_unknown_user_gets_the_same_answer_as_a_wrong_password(self, client: TestClient) -> None:
        response = login(client, "nobody-here", "whatever whatever")
        assert response.status_code == 401
        assert response.json()["detail"] == login(client, "documenter", "wrong password!!").json()["detail"]

    def test_token_is_stored_only_as_a_hash(self, client: TestClient, ctx, documenter: Account) -> None:
        token = ok(login(client, "documenter"))["access_token"]
        with ctx.db.engine.connect() as conn:
            stored = [row[0] for row in conn.execute(sa.select(ApiToken.token_hash))]
        assert token not in stored
        assert all(len(h) == 64 for h in stored)


class TestThrottling:
    def test_repeated_failures_for_one_account_are_slowed_down(
        self, client: TestClient, documenter: Account
    ) -> None:
        statuses = [login(client, "documenter", "bad password 123").status_code for _ in range(5)]
        assert statuses == [401] * 5
        blocked = login(client, "documenter")  # even the right password waits now
        assert blocked.status_code == 429
        assert int(blocked.headers["Retry-After"]) >= 1
        assert blocked.json()["type"] == "/problems/too-many-requests"

    def test_other_accounts_are_not_blocked_by_one_accounts_failures(
        self, client: TestClient, documenter: Account, researcher: Account
    ) -> None:
        for _ in range(6):
            login(client, "documenter", "bad password 123")
        assert login(client, "researcher").status_code == 200

    def test_one_client_guessing_many_accounts_is_slowed_down(self, make_settings, accounts) -> None:
        from api.main import create_app

        settings = make_settings(login_ip_max_failures=3, trust_proxy_headers=True)
        with TestClient(create_app(settings)) as client:
            for name in ("a1", "a2", "a3"):
                assert login(client, name, "guess guess guess", ip="203.0.113.9").status_code == 401
            assert login(client, "researcher", ip="203.0.113.9").status_code == 429
            assert login(client, "researcher", ip="198.51.100.7").status_code == 200


class TestTokens:
    def test_logout_revokes_the_token_at_once(self, client: TestClient, documenter: Account) -> None:
        token = ok(login(client, "documenter"))["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert client.post(f"{API}/auth/logout", headers=headers).status_code == 204
        assert client.get(f"{API}/auth/me", headers=headers).status_code == 401

    def test_expired_token_is_refused(self, client: TestClient, ctx, documenter: Account) -> None:
        token = ok(login(client, "documenter"))["access_token"]
        with ctx.db.write_session() as session:
            session.execute(sa.update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        assert client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    def test_disabled_users_tokens_are_refused_at_once(
        self, client: TestClient, admin: Account, documenter: Account
    ) -> None:
        assert client.get(f"{API}/auth/me", headers=documenter.headers).status_code == 200
        ok(client.patch(f"{API}/users/{documenter.user_id}", json={"disabled": True}, headers=admin.headers))
        response = client.get(f"{API}/auth/me", headers=documenter.headers)
        assert response.status_code == 401
        assert login(client, "documenter").status_code == 401

    def test_a_request_does_not_wait_behind_a_long_writer_to_record_its_tokens_use(
        self, client: TestClient, ctx, documenter: Account
    ) -> None:
        """A token's last use is bookkeeping: while another writer holds the lock (an import, say), a request
        is answered without recording it (before, it waited SQLite's 30 s busy timeout and failed), and the
        next request after the writer records it."""
        with ctx.db.write_session() as session:
            session.execute(sa.update(ApiToken).values(last_used_at=None))

        def last_used() -> list[object]:
            with ctx.db.engine.connect() as conn:
                return [row[0] for row in conn.execute(sa.select(ApiToken.last_used_at))]

        def me_in_a_thread() -> list[int]:
            # In a thread, so that a request that waited for the lock held here would fail this test, not hang it.
            answers: list[int] = []
            thread = threading.Thread(
                target=lambda: answers.append(
                    client.get(f"{API}/auth/me", headers=documenter.headers).status_code
                )
            )
            thread.start()
            thread.join(timeout=20)
            return answers

        if ctx.db.is_sqlite:
            writer = sqlite3.connect(ctx.db.url.database, isolation_level=None)
            writer.execute("BEGIN IMMEDIATE")  # the one write lock
            release = writer.rollback
        else:
            holder = ctx.db.engine.connect()
            holder.begin()
            holder.execute(sa.text("SELECT id FROM api_token FOR UPDATE"))  # the token's row
            release = holder.close
        try:
            assert me_in_a_thread() == [200]
            assert last_used() and all(at is None for at in last_used())
        finally:
            release()
        assert me_in_a_thread() == [200]
        assert any(at is not None for at in last_used())

    def test_garbage_and_missing_tokens_are_401_problems(self, client: TestClient) -> None:
        for headers in (
            {},
            {"Authorization": "Bearer nonsense"},
            {"Authorization": "Bearer prc_" + "x" * 43},
        ):
            response = client.get(f"{API}/cases", headers=headers)
            assert response.status_code == 401
            assert response.headers["content-type"] == "application/problem+json"


class TestUserAdministration:
    def test_admin_creates_a_user_with_a_generated_password_shown_once(
        self, client: TestClient, admin: Account
    ) -> None:
        created = ok(
            client.post(
                f"{API}/users", json={"username": "NewOne", "role": "researcher"}, headers=admin.headers
            ),
            201,
        )
        assert created["username"] == "newone"
        assert len(created["password"]) >= 16
        assert login(client, "newone", created["password"]).status_code == 200
        listed = ok(client.get(f"{API}/users", headers=admin.headers))
        assert all("password" not in u for u in listed)

    def test_duplicate_username_is_a_409(self, client: TestClient, admin: Account) -> None:
        response = client.post(
            f"{API}/users", json={"username": "documenter", "role": "researcher"}, headers=admin.headers
        )
        assert response.status_code == 409

    def test_admin_cannot_lock_themselves_out(self, client: TestClient, admin: Account) -> None:
        response = client.patch(
            f"{API}/users/{admin.user_id}", json={"disabled": True}, headers=admin.headers
        )
        assert response.status_code == 409

    def test_only_admins_manage_users(self, client: TestClient, coordinator: Account) -> None:
        assert client.get(f"{API}/users", headers=coordinator.headers).status_code == 403
