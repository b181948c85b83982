"""The `precedent` console script: first start, accounts, tokens."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import conftest
from tests.servers import free_port, running

API = "/api/v1"


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database nobody has migrated yet: what a new installation starts from."""
    if not conftest.PG_URL:
        yield f"sqlite:///{tmp_path / 'fresh' / 'precedent.sqlite3'}"
        return
    with conftest.blank_postgres_database("precedent_fresh") as url:
        yield url


def _env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PRECEDENT_DATABASE_URL": database_url,
        "PRECEDENT_DATA_DIR": str(data_dir),
        **extra,
    }


def cli(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def test_first_start_creates_admin_once_and_the_password_works(
    empty_database_url: str, tmp_path: Path
) -> None:
    env = _env(empty_database_url, tmp_path / "var", PRECEDENT_PORT=str(free_port()))
    with running(env) as server:
        token = httpx.post(f"{server.base}{API}/auth/token", data={"username": "admin", "password": "nope"})
        assert token.status_code == 401
    first = server.output()
    password = next(
        line.strip() for line in first.splitlines() if line.startswith("    ") and len(line.strip()) >= 16
    )
    key = tmp_path / "var" / "keys" / "identity.key"
    assert key.exists()
    assert oct(key.stat().st_mode & 0o777) == "0o600"

    with running(env) as server:
        response = httpx.post(
            f"{server.base}{API}/auth/token", data={"username": "admin", "password": password}
        )
        assert response.status_code == 200, response.text
        bearer = {"Authorization": f"Bearer {response.json()['access_token']}"}
        assert httpx.get(f"{server.base}{API}/auth/me", headers=bearer).json()["role"] == "admin"
    second = server.output()
    assert "First start" not in second
    assert password not in second


def test_user_create_token_create_and_disable(empty_database_url: str, tmp_path: Path) -> None:
    env = _env(empty_database_url, tmp_path / "var")
    assert cli("db", "upgrade", env=env).returncode == 0
    created = cli("user", "create", "Maryna", "--role", "documenter", env=env)
    assert created.returncode == 0, created.stderr
    assert "password: " in created.stdout
    piped = cli(
        "user",
        "create",
        "ales",
        "--role",
        "researcher",
        "--password-stdin",
        env=env,
        stdin="a long enough password\n",
    )
    assert piped.returncode == 0 and "password" not in piped.stdout
    assert cli("user", "create", "ales", "--role", "researcher", env=env).returncode == 1
    assert cli("user", "create", "x", "--role", "superuser", env=env).returncode == 2

    token = cli("token", "create", "ales", "--days", "30", env=env)
    assert token.returncode == 0
    bearer = token.stdout.strip()
    assert bearer.startswith("prc_")

    from fastapi.testclient import TestClient

    from api.config import Settings
    from api.main import create_app

    settings = Settings(database_url=empty_database_url, data_dir=tmp_path / "var")
    with TestClient(create_app(settings)) as client:
        assert (
            client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {bearer}"}).json()["username"]
            == "ales"
        )
        assert cli("user", "disable", "ales", env=env).returncode == 0
        assert client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {bearer}"}).status_code == 401
    assert cli("user", "disable", "nobody", env=env).returncode == 1


def test_production_mode_refuses_to_start_without_a_secret_key(
    empty_database_url: str, tmp_path: Path
) -> None:
    env = _env(empty_database_url, tmp_path / "var", PRECEDENT_MODE="production")
    result = cli("db", "upgrade", env=env)
    assert result.returncode == 2
    assert "PRECEDENT_SECRET_KEY" in result.stderr


def test_a_weak_password_is_refused_with_its_reason_in_the_terminals_language(
    empty_database_url: str, tmp_path: Path
) -> None:
    env = _env(empty_database_url, tmp_path / "var")
    assert cli("db", "upgrade", env=env).returncode == 0
    english = cli(
        "user", "create", "ales", "--role", "researcher", "--password-stdin", env=env, stdin="a" * 12 + "\n"
    )
    assert english.returncode == 1
    assert "repeats characters or words" in english.stderr
    belarusian = cli(
        "user",
        "create",
        "ales",
        "--role",
        "researcher",
        "--password-stdin",
        env={**env, "LANG": "be_BY.UTF-8"},
        stdin="password1234\n",
    )
    assert belarusian.returncode == 1
    assert "распаўсюджаны пароль" in belarusian.stderr
