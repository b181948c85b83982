"""Test set-up: every test gets its own database, migrated by the real Alembic migrations.

SQLite (default): the migrations run once into a template file, copied per test.
PostgreSQL (when PRECEDENT_TEST_DATABASE_URL is set): the migrations run once into a template database,
and each test gets `CREATE DATABASE ... TEMPLATE ...`, dropped afterwards.

The template also holds one account per role with a known password and a ready bearer token, so tests do
not pay for Argon2 on every login.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api import migrate
from api.config import Settings
from api.context import AppContext
from api.main import create_app
from schemas.enums import Role

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TEST_SECRET = "test-secret-key-with-enough-length-0123456789"
PASSWORD = "correct horse battery staple"
PG_URL = os.environ.get("PRECEDENT_TEST_DATABASE_URL") or None
S3_CREDENTIALS = {"region": "us-east-1", "access_key": "testing", "secret_key": "testing"}
_counter = itertools.count()


def pytest_report_header() -> str:
    return f"precedent database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite'}"


@dataclass(frozen=True)
class Account:
    username: str
    role: Role
    user_id: uuid.UUID
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


ACCOUNTS = {
    "admin": Role.ADMIN,
    "coordinator": Role.COORDINATOR,
    "documenter": Role.DOCUMENTER,
    "documenter2": Role.DOCUMENTER,
    "researcher": Role.RESEARCHER,
}


def _pg_admin_engine() -> sa.Engine:
    url = migrate.normalise_url(PG_URL or "")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _pg_url_for(dbname: str) -> str:
    return migrate.normalise_url(PG_URL or "").set(database=dbname).render_as_string(hide_password=False)


@contextmanager
def blank_postgres_database(prefix: str) -> Iterator[str]:
    """An empty PostgreSQL database nobody has migrated (one per process), dropped afterwards; yield its URL."""
    name = f"{prefix}_{os.getpid()}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url_for(name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _seed_accounts(settings: Settings) -> dict[str, Account]:
    from api.auth import service as auth_service
    from api.taxonomy import service as taxonomy_service

    ctx = AppContext.build(settings)
    accounts = {}
    try:
        with ctx.db.write_session() as session:
            taxonomy_service.load_taxonomy(session=session)
            for username, role in ACCOUNTS.items():
                user, _ = auth_service.create_user(
                    session=session, username=username, role=role, password=PASSWORD
                )
                token, _ = auth_service.create_api_token(ctx=ctx, session=session, username=username, days=30)
                accounts[username] = Account(username, role, user.id, token)
    finally:
        ctx.close()
    return accounts


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict[str, Account]]]:
    """Migrate a template database once, load the taxonomy, seed one account per role; yield (url, data_dir, accounts)."""
    data_dir = tmp_path_factory.mktemp("template-data")
    if PG_URL:
        name = f"precedent_tmpl_{os.getpid()}"
        admin = _pg_admin_engine()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = _pg_url_for(name)
    else:
        url = f"sqlite:///{data_dir / 'precedent.sqlite3'}"
    migrate.upgrade(url)
    accounts = _seed_accounts(_settings_for(url, data_dir))
    yield url, data_dir, accounts
    if PG_URL:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _settings_for(url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": url,
        "secret_key": TEST_SECRET,
        "mode": "dev",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def database_url(template: tuple[str, Path, dict[str, Account]], tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database for one test (a copy of the template)."""
    template_url, template_dir, _ = template
    if PG_URL:
        name = f"precedent_t_{os.getpid()}_{next(_counter)}"
        tmpl = sa.engine.make_url(template_url).database
        admin = _pg_admin_engine()
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{tmpl}"'))
        yield _pg_url_for(name)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        target = tmp_path / "data" / "precedent.sqlite3"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template_dir / "precedent.sqlite3", target)
        yield f"sqlite:///{target}"


@pytest.fixture
def data_dir(template: tuple[str, Path, dict[str, Account]], tmp_path: Path) -> Path:
    """The data folder of one test, holding the same keys as the template (so sealed identities open)."""
    _, template_dir, _ = template
    target = tmp_path / "data"
    target.mkdir(exist_ok=True)
    if not (target / "keys").exists():
        shutil.copytree(template_dir / "keys", target / "keys")
    return target


@pytest.fixture
def settings(database_url: str, data_dir: Path) -> Settings:
    return _settings_for(database_url, data_dir)


@pytest.fixture
def make_settings(database_url: str, data_dir: Path):  # type: ignore[no-untyped-def]
    """Build settings for this test's database with overrides (e.g. a small upload limit)."""

    def build(**overrides: object) -> Settings:
        return _settings_for(database_url, data_dir, **overrides)

    return build


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """An HTTP client on the real application (lifespan included) over this test's database."""
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def key_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """Point the process's settings (a migration reads them, as `precedent db upgrade` does) at a data folder,
    so that a migration that seals data finds the identity key there."""

    def use(folder: Path) -> None:
        monkeypatch.setenv("PRECEDENT_DATA_DIR", str(folder))
        monkeypatch.delenv("PRECEDENT_IDENTITY_KEY", raising=False)
        _forget_settings()

    yield use
    monkeypatch.undo()
    _forget_settings()


def _forget_settings() -> None:
    from api.config import get_settings

    getattr(get_settings, "cache_clear", lambda: None)()  # settings may be cached per process


@pytest.fixture
def ctx(client: TestClient) -> AppContext:
    """The application context of `client` (database, keys)."""
    return client.app.state.ctx  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def accounts(template: tuple[str, Path, dict[str, Account]]) -> dict[str, Account]:
    return template[2]


@pytest.fixture
def admin(accounts: dict[str, Account]) -> Account:
    return accounts["admin"]


@pytest.fixture
def coordinator(accounts: dict[str, Account]) -> Account:
    return accounts["coordinator"]


@pytest.fixture
def documenter(accounts: dict[str, Account]) -> Account:
    return accounts["documenter"]


@pytest.fixture
def documenter2(accounts: dict[str, Account]) -> Account:
    return accounts["documenter2"]


@pytest.fixture
def researcher(accounts: dict[str, Account]) -> Account:
    return accounts["researcher"]


# ---- S3 API server on loopback (moto), shared by the blob store and the API tests ------------------------


def free_port() -> int:
    """Return a TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Poll ``url`` until it answers; fail early if the server process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - fixed loopback URL
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not answer on {url} within {timeout} s")


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run moto's S3 server on a free loopback port for the session; yield its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> S3Client:
    """Return a boto3 client of the test server, for setting up and inspecting buckets."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=S3_CREDENTIALS["region"],
        aws_access_key_id=S3_CREDENTIALS["access_key"],
        aws_secret_access_key=S3_CREDENTIALS["secret_key"],
    )


@pytest.fixture
def s3_bucket(s3_client: S3Client) -> str:
    """Create an empty bucket for one test."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    return name
