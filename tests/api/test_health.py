"""Liveness and readiness, without authentication."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api import migrate
from api.main import create_app


def test_healthz_answers_without_a_token(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_migrated_revision(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["revision"] == migrate.head_revision()


def test_readyz_is_503_when_the_database_is_behind(make_settings, database_url: str) -> None:
    migrate.downgrade(database_url, "base")
    with TestClient(create_app(make_settings())) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "not migrated"


def test_readyz_is_503_when_the_database_is_unreachable(make_settings, tmp_path) -> None:
    settings = make_settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_responses_carry_security_headers(client: TestClient) -> None:
    response = client.get("/api/v1/cases")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_cors_is_closed_by_default(client: TestClient) -> None:
    response = client.options(
        "/api/v1/cases", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in response.headers


def test_sqlite_runs_in_wal_mode_with_foreign_keys(ctx) -> None:
    if not ctx.db.is_sqlite:
        pytest.skip("SQLite pragmas")
    with ctx.db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1


def test_the_access_log_names_the_route_template_never_the_url(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="precedent.access"):
        client.get("/api/v1/cases/5b0e6f1c-2f7a-4c55-9d7e-0a1b2c3d4e5f?q=Ярашук")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "precedent.access"]
    assert line.startswith("GET ") and "/cases/{case_id} 401 " in line
    assert "Ярашук" not in line and "5b0e6f1c" not in line
