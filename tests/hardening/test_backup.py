"""Encrypted backups: one age-encrypted file that shows a thief nothing, restored only with its private key,
refused with a clear message when the key is wrong, the file damaged or its payload at odds with its manifest."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pyrage
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pyrage import x25519

from api.backup import ARCHIVE, load_identities, verify_backup
from api.config import Settings
from api.main import create_app
from tests import conftest
from tests.conftest import Account
from tests.factories import API, PHOTO_SERIAL, create_case, create_person, make_jpeg, ok, upload
from tests.leaks import find

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


def age_key(folder: Path, name: str = "backup-key.txt") -> tuple[Path, str]:
    """Write an age identity file as age-keygen does (kept off the server); return it and its public key."""
    identity = x25519.Identity.generate()
    recipient = str(identity.to_public())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"# created by the test\n# public key: {recipient}\n{identity}\n")
    return path, recipient


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


@pytest.fixture
def made(client: TestClient, coordinator: Account, database_url: str, data_dir: Path, tmp_path: Path):
    """A case with a named person and a photo, backed up to a key held off the server: (archive, key, case)."""
    create_person(client, coordinator, identity={"full_name": NAME})
    case = create_case(client, coordinator, categories=["A.LIB.ARREST"])
    upload(client, coordinator, case["id"], make_jpeg(), filename="arrest.jpg")
    key, recipient = age_key(tmp_path / "offline")
    result = cli(
        "backup", str(tmp_path / "backup"), "-r", recipient, database_url=database_url, data_dir=data_dir
    )
    assert result.returncode == 0, result.stderr
    return tmp_path / "backup" / ARCHIVE, key, case


def nothing_restored(target_dir: Path) -> bool:
    """No key, no evidence and no unpacked leftovers in the restore's data folder."""
    if not target_dir.exists():
        return True
    names = {p.relative_to(target_dir).as_posix() for p in target_dir.rglob("*") if p.is_file()}
    return not {n for n in names if not n.startswith("precedent.sqlite3")}


def test_the_backup_file_shows_nothing_and_restores_with_its_key(
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
    key, recipient = age_key(tmp_path / "offline")
    dest = tmp_path / "backup"
    result = cli("backup", str(dest), "--recipient", recipient, database_url=database_url, data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in dest.iterdir()] == [ARCHIVE]

    # A thief with the file and without the private key: age's header, then noise.
    data = (dest / ARCHIVE).read_bytes()
    identity_key = (data_dir / "keys" / "identity.key").read_text().strip()
    key_files = [p.read_bytes().strip() for p in (data_dir / "keys").iterdir()]
    blob_hex = hashlib.sha256(photo_bytes).hexdigest()
    clear_words = [
        NAME,
        PHOTO_SERIAL,
        blob_hex,
        "identity.key",
        "database.",
        "MANIFEST",
        "backup.json",
        "keys/",
    ]
    assert data.startswith(b"age-encryption.org/v1\n")
    assert find(data, clear_words) == []
    assert base64.b64decode(identity_key) not in data
    assert not [k for k in key_files if k in data]
    assert photo_bytes[200:264] not in data
    # ... while all of it is inside, for the one holding the key.
    plain = pyrage.decrypt(data, load_identities(key))
    assert identity_key.encode() in plain and photo_bytes in plain and b"MANIFEST-sha256.txt" in plain
    assert verify_backup(archive=dest / ARCHIVE, identities=load_identities(key)) == []

    url, target_dir = restore_target
    restored = cli("restore", str(dest), "--identity", str(key), database_url=url, data_dir=target_dir)
    assert restored.returncode == 0, restored.stderr
    assert cli("db", "check", database_url=url, data_dir=target_dir).returncode == 0
    verified = cli("verify", database_url=url, data_dir=target_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    settings = Settings(database_url=url, data_dir=target_dir, secret_key=conftest.TEST_SECRET)
    with TestClient(create_app(settings)) as again:
        got = ok(again.get(f"{API}/cases/{case['id']}", headers=coordinator.headers))
        assert got["reference"] == case["reference"]
        got = ok(again.get(f"{API}/people/{person['id']}", headers=coordinator.headers))
        assert got["identity"]["full_name"] == NAME
        content = again.get(f"{API}/evidence/{photo['id']}/content", headers=coordinator.headers)
        assert content.status_code == 200
        assert content.content == photo_bytes
    blob = target_dir / "evidence" / "sha256" / blob_hex[:2] / blob_hex[2:4] / blob_hex
    modes = {p: p.stat().st_mode & 0o777 for p in (target_dir / "keys" / "identity.key", blob, blob.parent)}
    assert modes == {target_dir / "keys" / "identity.key": 0o600, blob: 0o400, blob.parent: 0o700}
    assert [p.name for p in target_dir.iterdir() if p.name.startswith(".")] == []  # nothing unpacked left


def test_the_wrong_key_is_refused_with_a_clear_error_and_nothing_is_restored(
    made, tmp_path: Path, restore_target
) -> None:
    archive, _, _ = made
    other, _ = age_key(tmp_path / "elsewhere", "other-key.txt")
    url, target_dir = restore_target
    refused = cli("restore", str(archive), "-i", str(other), database_url=url, data_dir=target_dir)
    assert refused.returncode == 1
    assert "does not open the backup" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert nothing_restored(target_dir)


@pytest.mark.parametrize("damage", ["one byte flipped", "cut short"])
def test_a_damaged_backup_file_is_refused_and_nothing_is_restored(made, damage: str, restore_target) -> None:
    archive, key, _ = made
    data = bytearray(archive.read_bytes())
    if damage == "one byte flipped":
        data[len(data) // 2] ^= 0x01
    else:
        del data[len(data) - 100 :]
    archive.write_bytes(bytes(data))
    url, target_dir = restore_target
    refused = cli("restore", str(archive), "-i", str(key), database_url=url, data_dir=target_dir)
    assert refused.returncode == 1
    assert "damaged, cut short or not a Precedent backup" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert nothing_restored(target_dir)


def test_a_payload_that_disagrees_with_its_manifest_is_refused_naming_the_file(
    made, tmp_path: Path, restore_target
) -> None:
    """Someone with the public key re-encrypts an altered database: the manifest inside still catches it."""
    archive, key, _ = made
    plain = pyrage.decrypt(archive.read_bytes(), load_identities(key))
    altered = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(plain)) as old, tarfile.open(fileobj=altered, mode="w") as new:
        for member in old.getmembers():
            body = bytearray(old.extractfile(member).read())  # type: ignore[union-attr]
            if member.name.startswith("database."):
                victim = member.name
                body[len(body) // 2] ^= 0x01
            new.addfile(member, io.BytesIO(bytes(body)))
    recipient = str(load_identities(key)[0].to_public())
    archive.write_bytes(pyrage.encrypt(altered.getvalue(), [x25519.Recipient.from_str(recipient)]))

    url, target_dir = restore_target
    checked = cli("restore", str(archive), "-i", str(key), "--check", database_url=url, data_dir=target_dir)
    refused = cli("restore", str(archive), "-i", str(key), database_url=url, data_dir=target_dir)
    for result in (checked, refused):
        assert result.returncode == 1
        assert f"{victim}: expected sha256" in result.stderr
        assert "Traceback" not in result.stderr
    assert nothing_restored(target_dir)


def test_backup_refuses_to_write_anything_without_a_recipient(
    database_url: str, data_dir: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "backup"
    result = cli("backup", str(dest), database_url=database_url, data_dir=data_dir)
    assert result.returncode == 1
    assert "refusing to write a backup in clear" in result.stderr
    assert not dest.exists()


def test_a_private_key_given_as_recipient_is_refused_without_being_echoed(
    database_url: str, data_dir: Path, tmp_path: Path
) -> None:
    key, _ = age_key(tmp_path / "offline")
    secret = key.read_text().splitlines()[-1]
    result = cli("backup", str(tmp_path / "b"), "-r", secret, database_url=database_url, data_dir=data_dir)
    assert result.returncode == 1
    assert "is a private key" in result.stderr
    assert secret not in result.stdout + result.stderr
    assert not (tmp_path / "b").exists()


def test_every_key_of_a_recipients_file_opens_the_backup(
    client: TestClient, coordinator: Account, database_url: str, data_dir: Path, tmp_path: Path
) -> None:
    create_case(client, coordinator)
    first, first_public = age_key(tmp_path / "offline", "first.txt")
    second, second_public = age_key(tmp_path / "offline", "second.txt")
    stranger, _ = age_key(tmp_path / "offline", "stranger.txt")
    listing = tmp_path / "recipients.txt"
    listing.write_text(f"# the union's two keys\n{first_public}\n\n{second_public}\n")
    result = cli(
        "backup", str(tmp_path / "b"), "-R", str(listing), database_url=database_url, data_dir=data_dir
    )
    assert result.returncode == 0, result.stderr
    archive = tmp_path / "b" / ARCHIVE
    assert verify_backup(archive=archive, identities=load_identities(first)) == []
    assert verify_backup(archive=archive, identities=load_identities(second)) == []
    refused = cli(
        "restore", str(archive), "-i", str(stranger), "--check", database_url=database_url, data_dir=data_dir
    )
    assert refused.returncode == 1 and "does not open the backup" in refused.stderr


def test_a_clear_backup_of_an_earlier_version_is_refused_then_restores_once_encrypted(
    made, coordinator: Account, tmp_path: Path, restore_target
) -> None:
    """A version-1 backup was this layout as a folder in clear: packed with tar and age by hand, it restores."""
    archive, key, case = made
    old = tmp_path / "old-backup"
    with tarfile.open(fileobj=io.BytesIO(pyrage.decrypt(archive.read_bytes(), load_identities(key)))) as tar:
        tar.extractall(old, filter="data")
    meta = json.loads((old / "backup.json").read_text())
    (old / "backup.json").write_text(json.dumps({**meta, "format": "precedent-backup-v1"}))
    manifest = (old / "MANIFEST-sha256.txt").read_text().splitlines()
    new_digest = hashlib.sha256((old / "backup.json").read_bytes()).hexdigest()
    lines = [f"{new_digest}  backup.json" if line.endswith("  backup.json") else line for line in manifest]
    (old / "MANIFEST-sha256.txt").write_text("\n".join(lines) + "\n")

    url, target_dir = restore_target
    refused = cli("restore", str(old), "-i", str(key), database_url=url, data_dir=target_dir)
    assert refused.returncode == 1
    assert "backup in clear" in refused.stderr and "age -r" in refused.stderr
    packed = subprocess.run(["tar", "-C", str(old), "-c", "."], capture_output=True, check=True).stdout
    recipient = load_identities(key)[0].to_public()
    (tmp_path / "old.tar.age").write_bytes(pyrage.encrypt(packed, [recipient]))
    restored = cli(
        "restore", str(tmp_path / "old.tar.age"), "-i", str(key), database_url=url, data_dir=target_dir
    )
    assert restored.returncode == 0, restored.stderr
    settings = Settings(database_url=url, data_dir=target_dir, secret_key=conftest.TEST_SECRET)
    with TestClient(create_app(settings)) as again:
        assert again.get(f"{API}/cases/{case['id']}", headers=coordinator.headers).status_code == 200


def test_backup_refuses_a_folder_that_is_not_empty(database_url: str, data_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "full"
    dest.mkdir()
    (dest / "something").write_text("x")
    _, recipient = age_key(tmp_path / "offline")
    result = cli("backup", str(dest), "-r", recipient, database_url=database_url, data_dir=data_dir)
    assert result.returncode == 1
    assert "not empty" in result.stderr
    assert [p.name for p in dest.iterdir()] == ["something"]
