"""The database layer's own promises, on the database under test."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

import api.db
from api.db import Database, normalise_url
from api.models import Case
from tests.conftest import Account


def test_an_index_hint_reaches_sqlite_and_is_ignored_elsewhere(database_url: str) -> None:
    # The search walks a chosen index on SQLite (`INDEXED BY`); SQLAlchemy's SQLite compiler drops table
    # hints, so the engine carries its own. A hint naming no index must reach SQLite and be refused there.
    db = Database(database_url)
    try:
        walk = sa.select(col(Case.id)).order_by(col(Case.created_at).desc()).limit(1)
        good = walk.with_hint(Case, "INDEXED BY ix_case_record_created_at_walk", "sqlite")
        bad = walk.with_hint(Case, "INDEXED BY ix_no_such_index", "sqlite")
        with db.engine.connect() as conn:
            assert conn.execute(good).all() == []
            if db.is_sqlite:
                with pytest.raises(sa.exc.OperationalError, match="no such index"):
                    conn.execute(bad)
            else:  # another database never sees a hint meant for SQLite
                assert conn.execute(bad).all() == []
    finally:
        db.dispose()


# ---- PostgreSQL connections lost while pooled ---------------------------------------------------------------


def drop_every_other_connection(database_url: str) -> int:
    """Do what a database restart or a failover does to the application's pooled connections."""
    admin = sa.create_engine(
        normalise_url(database_url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    try:
        with admin.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
            )
    finally:
        admin.dispose()


def needs_postgres(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("an embedded SQLite database has no server to lose")


def test_connections_dropped_while_idle_are_replaced_before_a_request_gets_one(
    database_url: str, client: TestClient, researcher: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_postgres(database_url)
    assert client.get("/api/v1/cases", headers=researcher.headers).status_code == 200
    monkeypatch.setattr(api.db, "PING_AFTER_IDLE_SECONDS", 0.05)
    assert drop_every_other_connection(database_url) >= 1
    time.sleep(0.1)  # idle for longer than PING_AFTER_IDLE_SECONDS: tested, found dead, replaced
    for _ in range(3):
        answer = client.get("/api/v1/cases", headers=researcher.headers)
        assert answer.status_code == 200, answer.text


def test_a_connection_lost_under_a_request_answers_503_and_the_retry_succeeds(
    database_url: str, client: TestClient, researcher: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_postgres(database_url)
    assert client.get("/api/v1/cases", headers=researcher.headers).status_code == 200
    monkeypatch.setattr(api.db, "PING_AFTER_IDLE_SECONDS", 3600.0)  # a connection used a moment ago: no test
    assert drop_every_other_connection(database_url) >= 1
    lost = client.get("/api/v1/cases", headers=researcher.headers)
    assert lost.status_code == 503
    assert lost.headers["content-type"].startswith("application/problem+json")
    assert lost.headers["retry-after"] == "1"
    assert lost.json()["title"] == "Service unavailable"
    assert "terminat" not in lost.text.lower() and "sql" not in lost.text.lower()
    retried = client.get("/api/v1/cases", headers=researcher.headers)
    assert retried.status_code == 200, retried.text
