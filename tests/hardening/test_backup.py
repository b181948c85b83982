"""Backup and restore: a consistent snapshot with a manifest of digests, restored into a new place."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.backup import MANIFEST, verify_backup
from api.config import Settings
from api.main import create_app
from tests import conftest
from tests.conftest import Account
from tests.factories import API, create_case, create_person, make_jpeg, ok, upload

NAME = "Марына Рэзервовая"


def cli(*args: str, database_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PRECEDENT_DATABASE_URL": database_url,
        "PRECEDENT_DATA_DIR": str(data_dir),
        "PRECEDENT_SECRET_KEY": conftest.TEST_SECRET,
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture
def restore_target(tmp_path: Path):
    """An empty database and data folder somewhere else."""
    data = tmp_path / "restored"
    if not conftest.PG_URL:
        yield f"sqlite:///{data / 'precedent.sqlite3'}", data
        return
    name = f"precedent_restore_{os.getpid()}"
    admin = conftest._pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield conftest._pg_url_for(name), data
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_backup_restores_into_a_new_place_with_identities_readable(
    client: TestClient,
    coordinator: Account,
    database_url: str,
    data_dir: Path,
    tmp_path: Path,
    restore_target,
) -> None:
    person = create_person(client, coordinator, identity={"full_name": NAME})
    case = create_case(client, coordinator, categories=["A.LIB.ARREST"])
    photo_bytes = make_jpeg()
    photo = upload(client, coordinator, case["id"], photo_bytes, filename="arrest.jpg")
    ok(
        client.post(
            f"{API}/people/{person['id']}/consents",
            json={"audience": "ilo", "granted_at": "2026-01-10", "method": "written"},
            headers=coordinator.headers,
        ),
        201,
    )
    dest = tmp_path / "backup"
    made = cli("backup", str(dest), database_url=database_url, data_dir=data_dir)
    assert made.returncode == 0, made.stderr
    assert verify_backup(dest) == []
    manifest = (dest / MANIFEST).read_text()
    assert "keys/identity.key" in manifest
    assert NAME.encode() not in b"".join(
        p.read_bytes() for p in dest.rglob("*") if p.is_file() and "keys" not in p.parts
    )

    url, target_dir = restore_target
    restored = cli("restore", str(dest), database_url=url, data_dir=target_dir)
    assert restored.returncode == 0, restored.stderr
    assert cli("db", "check", database_url=url, data_dir=target_dir).returncode == 0
    verified = cli("verify", database_url=url, data_dir=target_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    settings = Settings(database_url=url, data_dir=target_dir, secret_key=conftest.TEST_SECRET)
    with TestClient(create_app(settings)) as again:
        assert (
            ok(again.get(f"{API}/cases/{case['id']}", headers=coordinator.headers))["reference"]
            == case["reference"]
        )
        assert (
            ok(again.get(f"{API}/people/{person['id']}", headers=coordinator.headers))["identity"][
                "full_name"
            ]
            == NAME
        )
        content = again.get(f"{API}/evidence/{photo['id']}/content", headers=coordinator.headers)
        assert content.status_code == 200
        assert content.content == photo_bytes


def test_a_damaged_backup_is_refused_naming_the_file(
    client: TestClient,
    coordinator: Account,
    database_url: str,
    data_dir: Path,
    tmp_path: Path,
    restore_target,
) -> None:
    create_case(client, coordinator)
    dest = tmp_path / "backup"
    assert cli("backup", str(dest), database_url=database_url, data_dir=data_dir).returncode == 0
    victim = next(p for p in dest.iterdir() if p.name.startswith("database."))
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    problems = verify_backup(dest)
    assert len(problems) == 1 and problems[0].startswith(victim.name)
    url, target_dir = restore_target
    refused = cli("restore", str(dest), database_url=url, data_dir=target_dir)
    assert refused.returncode == 1
    assert victim.name in refused.stderr


def test_backup_refuses_a_folder_that_is_not_empty(database_url: str, data_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "full"
    dest.mkdir()
    (dest / "something").write_text("x")
    result = cli("backup", str(dest), database_url=database_url, data_dir=data_dir)
    assert result.returncode == 1
    assert "not empty" in result.stderr
