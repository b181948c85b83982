"""What the server writes is its account's alone: folders 0700, files 0600, evidence 0400, whatever umask it was
started with. Another account on the host (a web server's, a monitoring agent's, an intruder's) must not read a
testimony out of the database file, a key out of keys/, or a photo out of the evidence store."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from pyrage import x25519

from api.backup import ARCHIVE, create_backup
from api.config import Settings
from api.context import AppContext
from api.db import Database
from tests import conftest
from tests.conftest import Account
from tests.factories import API, create_case, make_jpeg, upload
from tests.servers import free_port, running


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """Run as if started from a shell with the usual umask 022, under which a plain open() makes 0644 files."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str | None]:
    """No database URL on SQLite (the server makes its file in the data folder); an empty PostgreSQL database."""
    if not conftest.PG_URL:
        yield None
        return
    with conftest.blank_postgres_database("precedent_modes") as url:
        yield url


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes_under(root: Path) -> dict[str, int]:
    """The permission bits of every file and folder under `root`, by relative name."""
    return {p.relative_to(root).as_posix(): mode(p) for p in root.rglob("*")}


def readable_by_others(modes: dict[str, int]) -> dict[str, str]:
    return {name: oct(bits) for name, bits in modes.items() if bits & 0o077}


def test_a_new_sqlite_database_and_its_wal_and_shm_files_are_private(tmp_path: Path, usual_umask) -> None:
    path = tmp_path / "new" / "precedent.sqlite3"
    db = Database(f"sqlite:///{path}")
    try:
        with db.write_session() as session:
            session.execute(sa.text("CREATE TABLE note (body TEXT)"))
            session.execute(sa.text("INSERT INTO note VALUES ('a testimony')"))
        files = {p.name: mode(p) for p in path.parent.iterdir()}  # while open: -wal and -shm exist
    finally:
        db.dispose()
    assert files == {
        "precedent.sqlite3": 0o600,
        "precedent.sqlite3-wal": 0o600,
        "precedent.sqlite3-shm": 0o600,
    }
    assert mode(path.parent) == 0o700


def test_first_start_makes_private_folders_keys_database_evidence_and_backups(
    tmp_path: Path, fresh_database_url: str | None, usual_umask
) -> None:
    var = tmp_path / "var"
    # No secret given: in dev mode the server makes keys/secret.key too.
    settings = Settings(data_dir=var, database_url=fresh_database_url, mode="dev")
    ctx = AppContext.build(settings)
    try:
        writer = ctx.blob_store.begin_write()
        writer.write(b"a photo of a witness")
        uploading = {p.name: mode(p) for p in (var / "evidence" / "tmp").iterdir()}
        blob = writer.commit()
    finally:
        ctx.close()
    recipient = x25519.Identity.generate().to_public()
    report = create_backup(settings=settings, dest=tmp_path / "backup", recipients=[recipient])

    assert list(uploading.values()) == [0o600]
    modes = modes_under(var)
    hex_digest = blob.digest.hex
    expected = {
        "keys": 0o700,
        "keys/identity.key": 0o600,
        "keys/secret.key": 0o600,
        "keys/custody-ed25519.pem": 0o600,
        "evidence": 0o700,
        "evidence/tmp": 0o700,
        f"evidence/sha256/{hex_digest[:2]}/{hex_digest[2:4]}": 0o700,
        f"evidence/sha256/{hex_digest[:2]}/{hex_digest[2:4]}/{hex_digest}": 0o400,
    }
    if fresh_database_url is None:
        expected["precedent.sqlite3"] = 0o600
    assert {name: modes.get(name) for name in expected} == expected
    assert readable_by_others(modes) == {}
    assert mode(var) == 0o700
    assert (mode(report.path.parent), mode(report.path)) == (0o700, 0o600)


def test_a_server_started_with_umask_022_writes_nothing_another_account_can_read(
    tmp_path: Path, fresh_database_url: str | None, usual_umask
) -> None:
    var = tmp_path / "var"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PRECEDENT_DATA_DIR": str(var),
        "PRECEDENT_SECRET_KEY": conftest.TEST_SECRET,
        "PRECEDENT_PORT": str(free_port()),
    }
    if fresh_database_url:
        env["PRECEDENT_DATABASE_URL"] = fresh_database_url
    with running(env) as server:
        password = next(
            line.strip()
            for line in server.output().splitlines()
            if line.startswith("    ") and len(line.strip()) >= 16
        )
        with httpx.Client(base_url=server.base, timeout=30) as http:
            token = http.post(f"{API}/auth/token", data={"username": "admin", "password": password})
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            detention = {
                "title": "Detention",
                "country": "BY",
                "occurred_from": "2022",
                "date_precision": "year",
            }
            case = http.post(f"{API}/cases", json=detention, headers=headers).json()
            uploaded = http.post(
                f"{API}/cases/{case['id']}/evidence",
                files={"file": ("arrest.jpg", make_jpeg(), "image/jpeg")},
                headers=headers,
            )
            assert uploaded.status_code == 201, uploaded.text
        # While the server runs, so the SQLite -wal and -shm files are there too.
        modes = {n: m for n, m in modes_under(var).items() if not n.startswith("server-")}  # the test's log
    blobs = [n for n in modes if n.startswith("evidence/sha256/") and n.count("/") == 4]
    assert blobs and all(modes[n] == 0o400 for n in blobs)
    assert modes["keys/identity.key"] == 0o600
    if fresh_database_url is None:
        assert {n for n in modes if n.startswith("precedent.sqlite3")} >= {
            "precedent.sqlite3",
            "precedent.sqlite3-wal",
        }
    assert readable_by_others(modes) == {}


def test_what_cli_commands_write_to_disk_is_private_under_umask_022(
    client, coordinator: Account, database_url: str, data_dir: Path, tmp_path: Path, usual_umask
) -> None:
    """The store copy for a court expert (custody export-ledger) is written with plain open(): the command's
    umask is what keeps it private."""
    case = create_case(client, coordinator)
    upload(client, coordinator, case["id"], make_jpeg(), filename="arrest.jpg")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PRECEDENT_DATABASE_URL": database_url,
        "PRECEDENT_DATA_DIR": str(data_dir),
        "PRECEDENT_SECRET_KEY": conftest.TEST_SECRET,
    }
    out = tmp_path / "store-copy"
    exported = subprocess.run(
        [sys.executable, "-m", "api.cli", "custody", "export-ledger", str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr
    recipient = str(x25519.Identity.generate().to_public())
    backed_up = subprocess.run(
        [sys.executable, "-m", "api.cli", "backup", str(tmp_path / "backup"), "-r", recipient],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert backed_up.returncode == 0, backed_up.stderr

    modes = modes_under(out)
    assert "custody/ledger.jsonl" in modes and any(
        n.startswith("sha256/") and n.count("/") == 3 for n in modes
    )
    assert readable_by_others(modes) == {}
    assert mode(out) == 0o700
    assert modes_under(tmp_path / "backup") == {ARCHIVE: 0o600}
    assert mode(tmp_path / "backup") == 0o700
