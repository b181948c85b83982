"""Encrypted backups that can be checked, and restores that check first.

`precedent backup DIR --recipient age1...` writes one file, `DIR/precedent-backup.tar.age`: a POSIX tar stream
encrypted with age (age-encryption.org/v1, through pyrage) to one or more X25519 recipients. Only age's header is
in clear: its version line and, per recipient, an ephemeral key share and the wrapped file key, none of which
names the recipient or the data. The tar holds, in this order::

    database.sqlite3 | database.pgdump   keys/...   evidence/sha256/ab/cd/<hex>   backup.json   MANIFEST-sha256.txt

a consistent database snapshot (SQLite's online backup API, or `pg_dump --format=custom` for PostgreSQL), the keys
folder (`keys/identity.key` opens every sealed identity), the evidence blobs in the store's own layout, and last
the manifest (`sha256sum -c` compatible) over every other member.

One stream, not a folder of encrypted files: tar and age both work block by block, so a store of any size is
written and read back in one pass in constant memory, and one file tells an onlooker nothing (a file per blob
would show every digest, every size and the count). pyrage reads plaintext from a file object, so a thread
writes the tar into a pipe that age reads (and, on restore, age writes into a pipe that the tar reader reads).

Nothing leaves the data folder in clear: the database snapshot is taken into a private (0700) folder inside it
and deleted after; a restore unpacks into such a folder, checks every member against the manifest (and every
blob against its name), and only then moves the files into place. age authenticates each 64 KiB chunk and the
end of the stream, so a damaged or truncated file is refused; it does not authenticate the sender: anyone
holding the public key can make a file that restores, so restore only backups you made.

By hand: `age -d -i key.txt precedent-backup.tar.age | tar -x && sha256sum -c MANIFEST-sha256.txt`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, TypeVar

import pyrage
import sqlalchemy as sa
from pyrage import x25519

from api import migrate
from api.config import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, Settings, StorageBackend, make_private_dir
from api.db import Database
from evidence_store.blobstore import LocalBlobStore

FORMAT = "precedent-backup-v2"
# v1 was the same layout as a folder in clear: packed with tar and age by hand, it restores too.
_READABLE_FORMATS = {"precedent-backup-v1", FORMAT}
ARCHIVE = "precedent-backup.tar.age"
MANIFEST = "MANIFEST-sha256.txt"
META = "backup.json"
_BLOCK = 1024 * 1024
_BLOB_MODE = 0o400
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DATABASE = re.compile(r"database\.(?:sqlite3|pgdump)")
# Every name a backup may hold; anything else (a link, a device, `../x`, a stray file) is refused.
_MEMBER = re.compile(
    r"database\.(?:sqlite3|pgdump)|keys/[A-Za-z0-9][A-Za-z0-9._-]{0,127}|backup\.json|MANIFEST-sha256\.txt"
    r"|evidence/sha256/([0-9a-f]{2})/([0-9a-f]{2})/\1\2[0-9a-f]{60}"
)
NO_RECIPIENT = (
    "refusing to write a backup in clear: give --recipient age1... or --recipients-file FILE "
    "(make a key pair away from the server with `age-keygen -o backup-key.txt`)"
)

T = TypeVar("T")


class BackupError(Exception):
    """A backup cannot be made, read or restored; the message says what to do."""


@dataclass
class BackupReport:
    path: Path
    files: int = 0
    bytes: int = 0
    blobs: int = 0
    revision: str | None = None
    identity_key_included: bool = False


def parse_recipients(keys: Iterable[str]) -> list[Any]:
    """Return the age X25519 recipients (`age1...`) for `keys`; refuse anything else, and none at all."""
    recipients = []
    for number, key in enumerate(keys, start=1):
        key = key.strip()
        if key.upper().startswith("AGE-SECRET-KEY-"):
            raise BackupError(
                f"recipient {number} is a private key: give its public key (`age-keygen -y FILE` prints it) "
                "and keep the private key away from the server"
            )
        try:
            recipients.append(x25519.Recipient.from_str(key))
        except pyrage.RecipientError:
            raise BackupError(f"recipient {number} is not an age public key (age1...)") from None
    if not recipients:
        raise BackupError(NO_RECIPIENT)
    return recipients


def read_recipients_file(path: Path) -> list[str]:
    """Return the keys of an age recipients file: one a line, `#` comments and blank lines ignored.

    pyrage parses single keys, not files: this loop is age's file format (as `age -R` reads it), no more.
    """
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BackupError(f"cannot read the recipients file {path}: {exc}") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def load_identities(path: Path) -> list[Any]:
    """Return the age X25519 identities (`AGE-SECRET-KEY-1...`) of an identity file as age-keygen writes it."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BackupError(f"cannot read the identity file {path}: {exc}") from None
    identities = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            identities.append(x25519.Identity.from_str(line))
        except pyrage.IdentityError:
            # `from None`, and no quote of the line: it may be most of a private key.
            raise BackupError(f"{path}, line {number}: not an age identity (AGE-SECRET-KEY-1...)") from None
    if not identities:
        raise BackupError(f"{path} holds no age identity (AGE-SECRET-KEY-1...)")
    return identities


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class _HashingReader:
    """A file read through, hashing every byte that passes."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.digest.update(data)
        return data


def _create_private(path: Path) -> BinaryIO:
    """Open a new file for writing with mode 0600 from its first byte (whatever the umask)."""
    return open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE), "wb")


def _through_pipe(produce: Callable[[BinaryIO], None], consume: Callable[[BinaryIO], T]) -> T:
    """Run `produce` in a thread writing into a pipe that `consume` reads here; raise the failure that came first.

    A producer that fails closes the pipe (so the consumer sees the stream end) after recording its error, so
    a consumer failing on a cut stream raises the producer's error; a consumer that fails on its own closes its
    end, and the producer's broken pipe that follows is not reported.
    """
    read_fd, write_fd = os.pipe()
    failures: list[BaseException] = []

    def run() -> None:
        sink = open(write_fd, "wb")  # noqa: SIM115 (closed below, after the failure is recorded)
        try:
            produce(sink)
        except BaseException as exc:
            failures.append(exc)
        finally:
            with contextlib.suppress(OSError):  # the consumer is gone: its own failure is the one to report
                sink.close()

    thread = threading.Thread(target=run, name="backup-pipe", daemon=True)
    thread.start()
    source = open(read_fd, "rb")  # noqa: SIM115 (closed only once the failures are sorted out)
    try:
        result = consume(source)
    except BaseException:
        producer_failed_first = bool(failures)  # read while the pipe is open: no broken pipe yet
        source.close()
        thread.join()
        if producer_failed_first:
            raise failures[0] from None
        raise
    source.close()
    thread.join()
    if failures:
        raise failures[0]
    return result


# ---- backup ----------------------------------------------------------------------------------------------


def create_backup(
    *,
    settings: Settings,
    dest: Path,
    recipients: list[Any],
    progress: Callable[[int], None] | None = None,
) -> BackupReport:
    """Write an encrypted backup of the database, keys and evidence, with its manifest inside, to `dest`."""
    if not recipients:
        raise BackupError(NO_RECIPIENT)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} is not empty: choose a new folder")
    make_private_dir(dest)
    staging = Path(tempfile.mkdtemp(prefix=".backup-", dir=make_private_dir(settings.data_dir)))
    partial = dest / f".{ARCHIVE}.part"
    report = BackupReport(dest / ARCHIVE)
    try:
        database_file, report.revision = _snapshot_database(settings, staging)
        with _create_private(partial) as out:
            _through_pipe(
                lambda sink: _write_tar(sink, settings, staging, database_file, report, progress),
                lambda source: pyrage.encrypt_io(source, out, recipients),
            )
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, report.path)
    except (pyrage.EncryptError, OSError) as exc:
        raise BackupError(f"the backup could not be written: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _snapshot_database(settings: Settings, staging: Path) -> tuple[str, str | None]:
    """Take a consistent snapshot of the database into `staging`; return its file name and schema revision."""
    db = Database(settings.resolved_database_url)
    try:
        with db.engine.connect() as conn:
            revision = migrate.current_revision(conn)
        if db.is_sqlite:
            _create_private(staging / "database.sqlite3").close()
            # The online backup API copies a consistent snapshot while the server keeps running.
            source = sqlite3.connect(db.url.database or "")
            target = sqlite3.connect(staging / "database.sqlite3")
            with target:
                source.backup(target)
            source.close()
            target.close()
            return "database.sqlite3", revision
        env, dsn = _pg_env_and_dsn(db)
        result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={staging / 'database.pgdump'}", dsn],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
        os.chmod(staging / "database.pgdump", PRIVATE_FILE_MODE)
        return "database.pgdump", revision
    finally:
        db.dispose()


def _write_tar(
    sink: BinaryIO,
    settings: Settings,
    staging: Path,
    database_file: str,
    report: BackupReport,
    progress: Callable[[int], None] | None,
) -> None:
    """Write the tar stream: database, keys, evidence, backup.json, and last the manifest of all of them."""
    manifest_path = staging / MANIFEST
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        with manifest_path.open("w") as manifest:

            def add(name: str, path: Path) -> None:
                digest, size = _add_member(tar, name, path)
                manifest.write(f"{digest}  {name}\n")
                report.files += 1
                report.bytes += size

            add(database_file, staging / database_file)
            for key in _key_files(settings.keys_dir):
                add(f"keys/{key.name}", key)
            report.identity_key_included = (settings.keys_dir / "identity.key").is_file()
            for name, blob in _blob_files(settings):
                add(name, blob)
                report.blobs += 1
                if progress:
                    progress(report.blobs)
            meta_path = staging / META
            meta_path.write_text(json.dumps(_meta(settings, database_file, report), indent=2) + "\n")
            add(META, meta_path)
        _add_member(tar, MANIFEST, manifest_path)


def _add_member(tar: tarfile.TarFile, name: str, path: Path) -> tuple[str, int]:
    """Append one file to the tar stream, hashing its bytes on the way; return (sha256 hex, size)."""
    with path.open("rb") as fh:
        stat = os.fstat(fh.fileno())
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = stat.st_size, PRIVATE_FILE_MODE, int(stat.st_mtime)
        reader = _HashingReader(fh)
        tar.addfile(info, reader)  # tarfile reads it with read() only
    return reader.digest.hexdigest(), stat.st_size


def _key_files(keys_dir: Path) -> list[Path]:
    if not keys_dir.is_dir():
        return []
    return sorted(p for p in keys_dir.iterdir() if p.is_file() and _MEMBER.fullmatch(f"keys/{p.name}"))


def _blob_files(settings: Settings) -> Iterator[tuple[str, Path]]:
    """Every stored blob (never a temporary file) as (member name, path), in digest order."""
    root = settings.evidence_dir
    if settings.storage_backend is not StorageBackend.LOCAL or not (root / "sha256").is_dir():
        return
    for digest in LocalBlobStore(root).iter_digests():
        relative = f"sha256/{digest.hex[:2]}/{digest.hex[2:4]}/{digest.hex}"
        yield f"evidence/{relative}", root / relative


def _meta(settings: Settings, database_file: str, report: BackupReport) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "database": {
            "backend": "sqlite" if database_file.endswith("sqlite3") else "postgresql",
            "file": database_file,
            "revision": report.revision,
        },
        "evidence": {"backend": settings.storage_backend.value, "blobs": report.blobs},
        "identity_key": "keys/identity.key"
        if report.identity_key_included
        else ("not in this backup: PRECEDENT_IDENTITY_KEY" if settings.identity_key else None),
    }
    if settings.storage_backend is not StorageBackend.LOCAL:
        meta["evidence"]["note"] = (
            "objects stay in the bucket: back them up with the storage's own versioning"
        )
    return meta


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


# ---- reading a backup ----------------------------------------------------------------------------------------


def find_archive(src: Path) -> Path:
    """Return the backup file `src` names: the file itself, or the one in the folder `src`."""
    if src.is_file():
        return src
    if (src / ARCHIVE).is_file():
        return src / ARCHIVE
    if (src / MANIFEST).is_file():
        raise BackupError(
            f"{src} is a backup in clear, made by an earlier version. Encrypt it, restore the encrypted file, then "
            f"destroy the folder: tar -C {src} -c . | age -r age1... > {ARCHIVE}"
        )
    raise BackupError(f"no backup at {src}: give the {ARCHIVE} file or the folder holding it")


def verify_backup(*, archive: Path, identities: list[Any]) -> list[str]:
    """Decrypt a backup and return every member whose bytes differ from the manifest (or missing, or extra)."""
    with tempfile.TemporaryDirectory(prefix="precedent-verify-") as scratch:
        return _unpack(archive, identities, Path(scratch), keep=False)


def _unpack(archive: Path, identities: list[Any], into: Path, *, keep: bool) -> list[str]:
    """Decrypt the backup and read its tar into `into` (data members only if `keep`); return its problems."""
    try:
        encrypted = archive.open("rb")
    except OSError as exc:
        raise BackupError(f"cannot read the backup {archive}: {exc.strerror}") from None
    with encrypted:
        try:
            found, problems = _through_pipe(
                lambda sink: _decrypt(encrypted, sink, identities),
                lambda source: _read_tar(source, into, keep),
            )
        except tarfile.TarError as exc:
            raise BackupError(f"the decrypted backup is not a readable tar archive ({exc})") from None
    return problems + _check_manifest(into / MANIFEST, found)


def _decrypt(encrypted: BinaryIO, sink: BinaryIO, identities: list[Any]) -> None:
    try:
        pyrage.decrypt_io(encrypted, sink, identities)
    except BrokenPipeError:
        raise
    except (pyrage.DecryptError, OSError) as exc:
        if "no matching keys" in str(exc).lower():
            raise BackupError(
                "this identity does not open the backup: it was encrypted to another key"
            ) from None
        raise BackupError(
            f"the backup cannot be decrypted: it is damaged, cut short or not a Precedent backup (age: {exc})"
        ) from None


def _read_tar(source: BinaryIO, into: Path, keep: bool) -> tuple[dict[str, str], list[str]]:
    """Read every member of the tar stream, hashing it; write the ones kept. Return (name -> sha256, problems)."""
    found: dict[str, str] = {}
    problems: list[str] = []
    with tarfile.open(fileobj=source, mode="r|") as tar:
        for member in tar:
            name = member.name.removeprefix("./")
            if member.isdir():
                continue  # folders come from the files' names
            if not member.isfile() or not _MEMBER.fullmatch(name):
                problems.append(f"{name}: not a file a backup holds")
            elif name in found:
                problems.append(f"{name}: appears twice")
            else:
                fileobj = tar.extractfile(member)
                if fileobj is not None:  # always, for a regular file
                    found[name] = _copy_hashing(
                        fileobj, into, name if keep or name in (MANIFEST, META) else None
                    )
    # Read to the end: age checks the stream's last chunk, and the producer must not meet a closed pipe.
    while source.read(_BLOCK):
        pass
    return found, problems


def _copy_hashing(fileobj: IO[bytes], into: Path, name: str | None) -> str:
    """Hash a member, writing it to `into/name` (0600, in 0700 folders) unless `name` is None."""
    digest = hashlib.sha256()
    out = None
    if name is not None:
        for folder in reversed(Path(name).parents[:-1]):
            (into / folder).mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        out = _create_private(into / name)
    try:
        while block := fileobj.read(_BLOCK):
            digest.update(block)
            if out is not None:
                out.write(block)
    finally:
        if out is not None:
            out.close()
    return digest.hexdigest()


def _check_manifest(manifest: Path, found: dict[str, str]) -> list[str]:
    """Compare what the stream held with its manifest; check each blob against its own name too."""
    if MANIFEST not in found:
        return [f"{MANIFEST} is missing"]
    problems = []
    listed: dict[str, str] = {}
    for number, line in enumerate(manifest.read_text(errors="replace").splitlines(), start=1):
        expected, separator, name = line.partition("  ")
        if not separator or not _HEX64.fullmatch(expected):
            problems.append(f"{MANIFEST}, line {number}: not `<sha256>  <name>`")
        else:
            listed[name] = expected
    for name, expected in listed.items():
        if name not in found:
            problems.append(f"{name}: missing")
        elif found[name] != expected:
            problems.append(f"{name}: expected sha256 {expected}, found {found[name]}")
    for name in sorted(set(found) - set(listed) - {MANIFEST}):
        problems.append(f"{name}: not in the manifest")
    for name, digest in found.items():
        if name.startswith("evidence/") and not name.endswith(digest):
            problems.append(f"{name}: its bytes hash to {digest}, not to its name")
    return problems


# ---- restore -----------------------------------------------------------------------------------------------


def restore_backup(
    *, settings: Settings, archive: Path, identities: list[Any], force: bool = False
) -> dict[str, Any]:
    """Decrypt a backup, check it against its manifest, then restore it into the configured database and data folder."""
    db = Database(settings.resolved_database_url)
    try:
        _refuse_non_empty(db, force)
    finally:
        db.dispose()
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=make_private_dir(settings.data_dir)))
    try:
        problems = _unpack(archive, identities, staging, keep=True)
        if problems:
            raise BackupError("the backup does not match its manifest:\n  " + "\n  ".join(problems))
        meta = _read_meta(staging)
        _restore_database(settings, staging, meta["database"])
        if (staging / "keys").is_dir():
            for key in sorted((staging / "keys").iterdir()):
                shutil.move(key, make_private_dir(settings.keys_dir) / key.name)
        blobs = _move_evidence(staging / "evidence", settings.evidence_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"revision": meta["database"]["revision"], "blobs": blobs}


def _read_meta(staging: Path) -> dict[str, Any]:
    try:
        meta = json.loads((staging / META).read_text())
        database = meta["database"]
        name = database["file"]
    except (OSError, ValueError, KeyError, TypeError):
        raise BackupError(f"the backup's {META} is missing or unreadable") from None
    if meta.get("format") not in _READABLE_FORMATS:
        raise BackupError(f"unknown backup format {meta.get('format')!r}")
    if not isinstance(name, str) or not _DATABASE.fullmatch(name) or not (staging / name).is_file():
        raise BackupError(f"the backup's {META} names no database file it holds")
    if database.get("backend") not in ("sqlite", "postgresql"):
        raise BackupError(f"unknown database backend {database.get('backend')!r} in {META}")
    return dict(meta)


def _restore_database(settings: Settings, staging: Path, database: dict[str, Any]) -> None:
    db = Database(settings.resolved_database_url)
    try:
        if database["backend"] == "sqlite":
            if not db.is_sqlite:
                raise BackupError(
                    "this backup holds a SQLite database; restore it with an SQLite database URL"
                )
            db.dispose()
            target = Path(db.url.database or "")
            for suffix in ("-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            _copy_private(staging / database["file"], target)
            return
        if db.is_sqlite:
            raise BackupError(
                "this backup holds a PostgreSQL dump; restore it with a PostgreSQL database URL"
            )
        env, dsn = _pg_env_and_dsn(db)
        db.dispose()
        dump = str(staging / database["file"])
        result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            [_tool("pg_restore"), "--no-owner", "--clean", "--if-exists", f"--dbname={dsn}", dump],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BackupError(f"pg_restore failed: {result.stderr.strip()}")
    finally:
        db.dispose()


def _copy_private(source: Path, target: Path) -> None:
    """Copy a file over `target`, which is 0600 before the first byte lands."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with open(fd, "wb") as out, source.open("rb") as src:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        shutil.copyfileobj(src, out, _BLOCK)


def _move_evidence(source: Path, store_root: Path) -> int:
    """Move checked blobs into the store's layout (a blob already there stays); return how many the backup held."""
    if not (source / "sha256").is_dir():
        return 0
    LocalBlobStore(store_root)  # the store's own folders, with the store's own modes
    blobs = 0
    for digest in LocalBlobStore(source).iter_digests():
        relative = Path("sha256", digest.hex[:2], digest.hex[2:4], digest.hex)
        target = store_root / relative
        if not target.exists():
            for folder in (target.parent.parent, target.parent):
                folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
            shutil.move(source / relative, target)
            os.chmod(target, _BLOB_MODE)
        blobs += 1
    return blobs


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
