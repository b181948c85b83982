"""Backups that can be checked, and restores that check first.

A backup folder holds a consistent database snapshot (SQLite's online backup API, or `pg_dump --format=custom`
for PostgreSQL), the keys folder (without `keys/identity.key` no sealed identity can be opened), the evidence
blobs in the store's own layout (`evidence/sha256/ab/cd/<hex>`, which `python -m evidence_store verify` accepts),
`backup.json`, and `MANIFEST-sha256.txt` (`sha256sum -c` compatible) over every other file.

Layout::

    backup.json  MANIFEST-sha256.txt  database.sqlite3 | database.pgdump  keys/  evidence/sha256/...
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from api import migrate
from api.config import Settings
from api.db import Database

FORMAT = "precedent-backup-v1"
MANIFEST = "MANIFEST-sha256.txt"
_BLOCK = 1024 * 1024


class BackupError(Exception):
    """A backup cannot be made or restored; the message says what to do."""


@dataclass
class BackupReport:
    path: Path
    files: int
    bytes: int
    blobs: int
    revision: str | None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _tool(name: str) -> str:
    """Absolute path of a PostgreSQL client program, or a clear error."""
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found: install the PostgreSQL client programs (postgresql-client)")
    return path


def _pg_env_and_dsn(db: Database) -> tuple[dict[str, str], str]:
    url = db.url.set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
        url = url.set(password=None)
    return env, url.render_as_string(hide_password=False)


def _copy_evidence(source: Path, target: Path, progress: Callable[[int], None] | None) -> int:
    """Copy every stored blob (not temporary files) in the store's own layout."""
    blobs = 0
    root = source / "sha256"
    if not root.is_dir():
        return 0
    for blob in sorted(root.rglob("*")):
        if blob.is_file():
            dest = target / blob.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(blob, dest)
            blobs += 1
            if progress:
                progress(blobs)
    return blobs


def create_backup(
    *, settings: Settings, dest: Path, progress: Callable[[int], None] | None = None
) -> BackupReport:
    """Write a complete, self-describing backup of the database, keys and evidence into `dest`."""
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: choose a new folder")
    dest.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    try:
        with db.engine.connect() as conn:
            revision = migrate.current_revision(conn)
        if db.is_sqlite:
            database_file = "database.sqlite3"
            # The online backup API copies a consistent snapshot while the server keeps running.
            source = sqlite3.connect(db.url.database or "")
            target = sqlite3.connect(dest / database_file)
            with target:
                source.backup(target)
            source.close()
            target.close()
        else:
            database_file = "database.pgdump"
            env, dsn = _pg_env_and_dsn(db)
            result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
                [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={dest / database_file}", dsn],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    finally:
        db.dispose()
    if settings.keys_dir.is_dir():
        shutil.copytree(settings.keys_dir, dest / "keys")
    blobs = (
        _copy_evidence(settings.evidence_dir, dest / "evidence", progress)
        if settings.storage_backend == "local"
        else 0
    )
    meta: dict[str, Any] = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "database": {
            "backend": "sqlite" if database_file.endswith("sqlite3") else "postgresql",
            "file": database_file,
            "revision": revision,
        },
        "evidence": {"backend": settings.storage_backend.value, "blobs": blobs},
    }
    if settings.storage_backend != "local":
        meta["evidence"]["note"] = (
            "objects stay in the bucket: back them up with the storage's own versioning"
        )
    (dest / "backup.json").write_text(json.dumps(meta, indent=2) + "\n")
    files = sorted(p for p in dest.rglob("*") if p.is_file() and p.name != MANIFEST)
    lines = [f"{_sha256(p)}  {p.relative_to(dest).as_posix()}" for p in files]
    (dest / MANIFEST).write_text("\n".join(lines) + "\n")
    return BackupReport(dest, len(files), sum(p.stat().st_size for p in files), blobs, revision)


def verify_backup(src: Path) -> list[str]:
    """Return every file of the backup whose bytes differ from the manifest (or that is missing or extra)."""
    manifest = src / MANIFEST
    if not manifest.is_file():
        return [f"{MANIFEST} is missing"]
    problems = []
    listed = set()
    for line in manifest.read_text().splitlines():
        expected, _, name = line.partition("  ")
        listed.add(name)
        path = src / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif (found := _sha256(path)) != expected:
            problems.append(f"{name}: expected sha256 {expected}, found {found}")
    extra = {p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()} - listed - {MANIFEST}
    problems += [f"{name}: not in the manifest" for name in sorted(extra)]
    return problems


def restore_backup(*, settings: Settings, src: Path, force: bool = False) -> dict[str, Any]:
    """Check a backup against its manifest, then restore it into the configured database and data folder."""
    problems = verify_backup(src)
    if problems:
        raise BackupError("the backup does not match its manifest:\n  " + "\n  ".join(problems))
    meta = json.loads((src / "backup.json").read_text())
    if meta.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {meta.get('format')!r}")
    db = Database(settings.resolved_database_url)
    try:
        _refuse_non_empty(db, force)
        database = meta["database"]
        if database["backend"] == "sqlite":
            if not db.is_sqlite:
                raise BackupError(
                    "this backup holds a SQLite database; restore it with an SQLite database URL"
                )
            db.dispose()
            target = Path(db.url.database or "")
            target.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(src / database["file"], target)
        else:
            if db.is_sqlite:
                raise BackupError(
                    "this backup holds a PostgreSQL dump; restore it with a PostgreSQL database URL"
                )
            env, dsn = _pg_env_and_dsn(db)
            db.dispose()
            result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
                [
                    _tool("pg_restore"),
                    "--no-owner",
                    "--clean",
                    "--if-exists",
                    f"--dbname={dsn}",
                    str(src / database["file"]),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise BackupError(f"pg_restore failed: {result.stderr.strip()}")
    finally:
        db.dispose()
    if (src / "keys").is_dir():
        settings.keys_dir.mkdir(parents=True, exist_ok=True)
        for key in (src / "keys").iterdir():
            shutil.copy2(key, settings.keys_dir / key.name)
    blobs = (
        _copy_evidence(src / "evidence", settings.evidence_dir, None) if (src / "evidence").is_dir() else 0
    )
    return {"revision": meta["database"]["revision"], "blobs": blobs}


def _refuse_non_empty(db: Database, force: bool) -> None:
    if force:
        return
    try:
        with db.engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            if "case_record" in tables and conn.execute(sa.text("SELECT count(*) FROM case_record")).scalar():
                raise BackupError(
                    "the target database already holds cases: restore into an empty one (or --force)"
                )
    except sa.exc.OperationalError:
        return  # no database yet: fine
