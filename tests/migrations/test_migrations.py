"""The real Alembic migrations: upgrade from empty, agree with the models, downgrade and upgrade again."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from api import migrate
from api.db import Database

VERSIONS = Path(migrate.MIGRATIONS_DIR) / "versions"


def test_upgrade_from_empty_reaches_head_and_matches_the_models(database_url: str) -> None:
    migrate.downgrade(database_url, "base")
    migrate.upgrade(database_url)
    db = Database(database_url)
    with db.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
        assert migrate.pending_differences(conn) == []
    db.dispose()


def test_downgrade_to_base_removes_every_table(database_url: str) -> None:
    migrate.downgrade(database_url, "base")
    db = Database(database_url)
    with db.engine.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
    db.dispose()
    migrate.upgrade(database_url)


def test_there_is_a_single_head_and_file_names_follow_the_convention() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    for path in VERSIONS.glob("*.py"):
        assert re.match(r"^\d{4}-\d{2}-\d{2}-\d{4}_[a-z0-9_]+\.py$", path.name), path.name


def test_db_check_command_reports_agreement(settings, database_url: str, tmp_path) -> None:
    env = {
        "PRECEDENT_DATABASE_URL": database_url,
        "PRECEDENT_DATA_DIR": str(tmp_path / "d"),
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "db", "check"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "models and migrations agree" in result.stdout


def test_db_check_command_fails_on_a_database_behind(database_url: str, tmp_path) -> None:
    migrate.downgrade(database_url, "base")
    env = {
        "PRECEDENT_DATABASE_URL": database_url,
        "PRECEDENT_DATA_DIR": str(tmp_path / "d"),
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "db", "check"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "precedent db upgrade" in result.stderr
