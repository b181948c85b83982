"""The database layer's own promises, on the database under test."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import col

from api.db import Database
from api.models import Case


def test_an_index_hint_reaches_sqlite_and_is_ignored_elsewhere(database_url: str) -> None:
    # The search walks a chosen index on SQLite (`INDEXED BY`); SQLAlchemy's SQLite compiler drops table
    # hints, so the engine carries its own. A hint naming no index must reach SQLite and be refused there.
    db = Database(database_url)
    try:
        walk = sa.select(col(Case.id)).order_by(col(Case.created_at).desc()).limit(1)
        good = walk.with_hint(Case, "INDEXED BY ix_case_record_created_at_id", "sqlite")
        bad = walk.with_hint(Case, "INDEXED BY ix_no_such_index", "sqlite")
        with db.engine.connect() as conn:
            assert conn.execute(good).all() == []
            if db.is_sqlite:
                with pytest.raises(sa.exc.OperationalError, match="no such index"):
                    conn.execute(bad)
            else:  # another database never sees a hint meant for SQLite
                assert conn.execute(bad).all() == []
    finally:
        db.dispose()
