"""Run the Alembic migrations shipped in the `migrations` package, and compare them with the models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import api.models  # noqa: F401  (every table on the metadata)
import migrations
from api.db import Database, normalise_url

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent


def alembic_config(url: str) -> Config:
    """Build an Alembic config for `url` without an alembic.ini."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", str(normalise_url(url)).replace("%", "%%"))
    cfg.set_main_option(
        "file_template", "%%(year)d-%%(month).2d-%%(day).2d-%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision`."""
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> None:
    """Downgrade the database at `url` to `revision`."""
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)
    finally:
        engine.dispose()


def new_revision(url: str, message: str) -> None:
    """Autogenerate a migration from the difference between the models and the database at `url`."""
    from datetime import UTC, datetime

    engine = _engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            rev_id = datetime.now(UTC).strftime("%Y%m%d%H%M")
            command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """Return the newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(connection: sa.Connection) -> str | None:
    """Return the revision the connected database is at (None when never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def pending_differences(connection: sa.Connection) -> list[Any]:
    """Return the differences between the models and the migrated schema (empty when they agree)."""
    ctx = MigrationContext.configure(
        connection, opts={"compare_type": True, "target_metadata": SQLModel.metadata}
    )
    diffs = compare_metadata(ctx, SQLModel.metadata)
    return [d for d in diffs if not _is_ignorable(d, connection.dialect.name)]


def _dialect_only_indexes() -> dict[str, str]:
    """Index name -> the one database the models create it on."""
    out = {}
    for table in SQLModel.metadata.tables.values():
        for index in table.indexes:
            only = getattr(index, "_ddl_if", None)
            if index.name and only is not None and only.dialect:
                out[str(index.name)] = str(only.dialect)
    return out


def _is_ignorable(diff: Any, dialect: str) -> bool:
    # An index the models create on another database only (Index.ddl_if), which Alembic does not read (it
    # compares a copy of the index, without that condition: found again by name).
    if isinstance(diff, tuple) and diff and diff[0] == "add_index":
        only = _dialect_only_indexes().get(diff[1].name)
        if only is not None and only != dialect:
            return True
    # Full-text index shadow tables and triggers live outside the ORM metadata by design.
    if isinstance(diff, tuple) and diff and diff[0] == "remove_table":
        name: str = diff[1].name
        return name.startswith(("case_fts", "alembic_"))
    return False


def _engine(url: str) -> sa.Engine:
    return Database(url).migration_engine()
