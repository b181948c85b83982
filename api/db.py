"""Engines and sessions for SQLite (embedded default) and PostgreSQL (psycopg 3).

SQLite runs in WAL mode with foreign keys on and FULL synchronous commits (an acknowledged upload survives a
power cut). Writes use `BEGIN IMMEDIATE` so two writers queue on the busy timeout instead of failing on a
snapshot upgrade; reads use plain deferred transactions and never block writers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session

from api.config import PRIVATE_FILE_MODE, make_private_dir

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_MMAP_BYTES = 16 << 30  # an upper bound on the mapped size, not memory taken
# Helper threads a large sort may start besides its own (one per core but that one, at most four).
SQLITE_SORTER_THREADS = max(1, min(4, (os.cpu_count() or 2) - 1))
# A pooled PostgreSQL connection that has been idle for longer than this is tested (one round trip) before a
# request gets it; one back from a request within the second is not. Testing every checkout cost two of a
# search's ten round trips. A connection lost within that second fails its request with a 503 problem
# (api.problems), and SQLAlchemy then replaces every pooled connection.
PING_AFTER_IDLE_SECONDS = 1.0
SIDE_POOL_SIZE = 4


def _hinting(compiler: type[SQLCompiler]) -> type[SQLCompiler]:
    """The dialect's compiler, rendering a table hint (`Select.with_hint(table, "INDEXED BY ix", "sqlite")`)
    after the table's name: SQLAlchemy's SQLite compiler drops every table hint."""

    def get_from_hint_text(self: SQLCompiler, table: Any, text: str | None) -> str | None:  # noqa: ARG001
        return text

    return type(f"Hinting{compiler.__name__}", (compiler,), {"get_from_hint_text": get_from_hint_text})


def _private_sqlite_file(path: Path) -> None:
    """Create an empty database file with mode 0600 (and its folder 0700) unless it exists.

    SQLite would create it 0644, and gives its -wal and -shm files the database file's own mode.
    """
    make_private_dir(path.parent)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))


def _sqlite_engine(url: URL, *, immediate: bool, foreign_keys: bool = True) -> Engine:
    if url.database and url.database != ":memory:":
        _private_sqlite_file(Path(url.database))
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
        # Let a large sort (a statistics pass's GROUP BY over half a million cases, a migration's CREATE INDEX)
        # use helper threads: at a million cases on two cores, the pass alone went from 420 to 340-370 ms with
        # one helper (330-355 with two). Two passes over halves of the table in two threads of this process did
        # less (15%): threads of one process barely overlap in SQLite here (likely its allocator's one lock).
        cur.execute(f"PRAGMA threads={SQLITE_SORTER_THREADS}")
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


def _postgres_engine(
    url: URL, *, pool_size: int = 10, max_overflow: int = 10, pool_timeout: float = 30
) -> Engine:
    # prepare_threshold=None: psycopg's automatic prepared statements pin a generic plan that is wrong for
    # skewed subtree filters (measured 113-135 ms instead of ~1 ms; perf-baselines.md section 3b).
    engine = sa.create_engine(
        url,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        connect_args={"prepare_threshold": None},
    )

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _test_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE_SECONDS:
            return  # just opened, or just used
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The server went away (a restart, a failover): the pool reconnects this connection, and replaces
            # every other one it holds before handing it out (SQLAlchemy's checkout protocol).
            raise sa.exc.InvalidatePoolError("a pooled connection was lost while idle") from exc

    return engine


def normalise_url(url: str) -> URL:
    """Parse a database URL, using psycopg 3 for plain `postgresql://` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


#: session.info key: True on a session opened for writing (its request commits it once, at the end).
WRITE = "precedent.write"
#: session.info key: True once the session flushed a change (a GET that records an export, say).
WROTE = "precedent.wrote"


@event.listens_for(OrmSession, "after_flush")
def _wrote(session: OrmSession, _context: Any) -> None:
    if session.new or session.dirty or session.deleted:
        session.info[WROTE] = True


def must_commit(session: Session) -> bool:
    """True when a request's session holds work to commit: it was opened to write, or it has written."""
    return bool(session.in_transaction() and (session.info.get(WRITE) or session.info.get(WROTE)))


class Database:
    """The read and write engines of one database."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.side_engine: Engine | None = None
        if self.url.get_backend_name() == "sqlite":
            self.engine = _sqlite_engine(self.url, immediate=False)
            self.write_engine = _sqlite_engine(self.url, immediate=True)
        elif self.url.get_backend_name() == "postgresql":
            self.engine = _postgres_engine(self.url)
            self.write_engine = self.engine
            # A small pool of its own for work beside a request (the ranges of a statistics pass): a request
            # that finds it busy does without at once (no wait), and never waits on the requests' pool while
            # holding one of its connections.
            self.side_engine = _postgres_engine(
                self.url, pool_size=SIDE_POOL_SIZE, max_overflow=0, pool_timeout=0
            )
        else:
            raise ValueError(f"unsupported database backend: {self.url.get_backend_name()}")
        # The same pool, each statement its own transaction (PostgreSQL): no BEGIN and ROLLBACK around it.
        self.autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def session(self, *, write: bool) -> Session:
        """Open a session; `write=True` takes the writer lock at the first statement on SQLite.

        A request's write session is committed once, by its route, when the endpoint returns
        (api.routing.SessionRoute): services only flush.
        """
        session = Session(self.write_engine if write else self.engine, expire_on_commit=False)
        session.info[WRITE] = write
        return session

    def statement_session(self) -> Session:
        """Open a read session whose statements are each their own transaction on PostgreSQL (no BEGIN and
        ROLLBACK around them: two round trips fewer), so each sees the data as it is then; on SQLite, a
        plain read session. For a read whose statements need not agree with each other to the row (a
        search's count and its page)."""
        return Session(self.engine if self.is_sqlite else self.autocommit_engine, expire_on_commit=False)

    @contextmanager
    def single_read(self) -> Iterator[sa.Connection]:
        """A connection for one read statement (which needs no transaction around it): on PostgreSQL in
        autocommit, two round trips fewer than a session; on SQLite a plain read."""
        engine = self.engine if self.is_sqlite else self.autocommit_engine
        with engine.connect() as conn:
            yield conn

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

    @contextmanager
    def brief_write_session(self, wait_ms: int) -> Iterator[Session]:
        """A write_session that waits at most `wait_ms` for the write lock (SQLite) or a row lock
        (PostgreSQL), then fails with OperationalError: for bookkeeping a request may skip rather than wait
        behind a long writer (an import holds SQLite's one write lock for as long as it runs)."""
        with self.write_engine.connect() as conn:
            raw: Any = conn.connection.driver_connection  # no transaction yet: BEGIN comes with the first use
            if self.is_sqlite:
                raw.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
            try:
                with Session(bind=conn, expire_on_commit=False) as session:
                    if not self.is_sqlite:
                        session.execute(sa.text(f"SET LOCAL lock_timeout = '{int(wait_ms)}ms'"))
                    yield session
                    session.commit()
            finally:
                if self.is_sqlite:
                    raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")

    def migration_engine(self) -> Engine:
        """Return an engine for Alembic: on SQLite, foreign keys off so batch table rebuilds can run."""
        if self.is_sqlite:
            return _sqlite_engine(self.url, immediate=True, foreign_keys=False)
        return _postgres_engine(self.url)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.side_engine is not None:
            self.side_engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
