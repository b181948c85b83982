"""Engines and sessions for SQLite (embedded default) and PostgreSQL (psycopg 3).

SQLite runs in WAL mode with foreign keys on and FULL synchronous commits (an acknowledged upload survives a
power cut). Writes use `BEGIN IMMEDIATE` so two writers queue on the busy timeout instead of failing on a
snapshot upgrade; reads use plain deferred transactions and never block writers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_MMAP_BYTES = 16 << 30  # an upper bound on the mapped size, not memory taken


def _hinting(compiler: type[SQLCompiler]) -> type[SQLCompiler]:
    """The dialect's compiler, rendering a table hint (`Select.with_hint(table, "INDEXED BY ix", "sqlite")`)
    after the table's name: SQLAlchemy's SQLite compiler drops every table hint."""

    def get_from_hint_text(self: SQLCompiler, table: Any, text: str | None) -> str | None:  # noqa: ARG001
        return text

    return type(f"Hinting{compiler.__name__}", (compiler,), {"get_from_hint_text": get_from_hint_text})


def _sqlite_engine(url: URL, *, immediate: bool, foreign_keys: bool = True) -> Engine:
    if url.database and url.database != ":memory:":
        from pathlib import Path

        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        hide_parameters=True,
        # isolation_level=None hands transaction control to the "begin" hook below (pysqlite recipe).
        connect_args={
            "check_same_thread": False,
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
            "isolation_level": None,
        },
        pool_size=8,
        max_overflow=8,
    )
    engine.dialect.statement_compiler = _hinting(engine.dialect.statement_compiler)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # Read the file through a memory map (shared by every connection, paged in by the OS) rather than
        # copying pages into each connection's small cache: statistics over a million cases ran 2-5x faster.
        cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


def _postgres_engine(url: URL) -> Engine:
    # prepare_threshold=None: psycopg's automatic prepared statements pin a generic plan that is wrong for
    # skewed subtree filters (measured 113-135 ms instead of ~1 ms; perf-baselines.md section 3b).
    return sa.create_engine(
        url,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        connect_args={"prepare_threshold": None},
    )


def normalise_url(url: str) -> URL:
    """Parse a database URL, using psycopg 3 for plain `postgresql://` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class Database:
    """The read and write engines of one database."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        if self.url.get_backend_name() == "sqlite":
            self.engine = _sqlite_engine(self.url, immediate=False)
            self.write_engine = _sqlite_engine(self.url, immediate=True)
        elif self.url.get_backend_name() == "postgresql":
            self.engine = _postgres_engine(self.url)
            self.write_engine = self.engine
        else:
            raise ValueError(f"unsupported database backend: {self.url.get_backend_name()}")

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def session(self, *, write: bool) -> Session:
        """Open a session; `write=True` takes the writer lock at the first statement on SQLite."""
        return Session(self.write_engine if write else self.engine, expire_on_commit=False)

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """Run a short write transaction beside the request's own session; commit on success."""
        with self.session(write=True) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def migration_engine(self) -> Engine:
        """Return an engine for Alembic: on SQLite, foreign keys off so batch table rebuilds can run."""
        if self.is_sqlite:
            return _sqlite_engine(self.url, immediate=True, foreign_keys=False)
        return _postgres_engine(self.url)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
