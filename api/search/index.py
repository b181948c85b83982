"""The full-text and facet index (`case_text`): kept in step with cases and testimonies, rebuildable in bulk.

Design: one application-maintained table on both databases, no PostgreSQL trigger. The words to index are
tokenized and case-folded in Python (api.search.text), because neither database can fold Cyrillic the same
way: SQLite's lower() folds only ASCII and PostgreSQL's depends on the database locale. A generated tsvector
column could not use that Python fold, so on PostgreSQL the service writes `tsv = to_tsvector('simple', body)`
next to `body` (GIN-indexed); on SQLite an external-content FTS5 table, `case_fts`, follows `body` through the
triggers the migration creates. Every write path of cases and testimonies calls these functions inside its own
transaction; after a bulk load that bypassed the services, call `rebuild_text_index(connection)`.

What is indexed: each unretracted case (title, summary, narrative; with its place and employer fields folded
for case-insensitive filters) and each unretracted testimony of an unretracted case (its text and its
translations). A retracted case leaves the index with its testimonies.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col

from api.models import Case, CaseText, Testimony
from api.search.text import fold, index_body

CASE = "case"
TESTIMONY = "testimony"
_BATCH = 2000
_TEXT: sa.Table = CaseText.__table__  # type: ignore[attr-defined]


class Executor(Protocol):
    """A Connection or a Session: both execute Core statements."""

    def execute(self, statement: Any, parameters: Any = None, /) -> Any: ...


def _is_postgres(executor: Executor) -> bool:
    bind: Any = executor.get_bind() if isinstance(executor, Session) else executor
    return bool(bind.dialect.name == "postgresql")


def _folded(value: str | None) -> str | None:
    return fold(value.strip()) if value and value.strip() else None


def case_row(values: Any) -> dict[str, Any]:
    """Index row of a case, from a Case or any object with its attributes."""
    return {
        "source_id": values.id,
        "case_id": values.id,
        "kind": CASE,
        "body": index_body([values.title, values.summary, values.narrative]),
        "region_fold": _folded(values.region),
        "place_fold": _folded(values.place),
        "employer_fold": _folded(values.employer),
        "sector_fold": _folded(values.sector),
    }


def testimony_row(
    *, testimony_id: uuid.UUID, case_id: uuid.UUID, text: str, translations: Any
) -> dict[str, Any]:
    """Index row of a testimony: its text and every translation."""
    texts = [text, *(t.get("text") for t in (translations or []) if isinstance(t, dict))]
    return {
        "source_id": testimony_id,
        "case_id": case_id,
        "kind": TESTIMONY,
        "body": index_body(texts),
        "region_fold": None,
        "place_fold": None,
        "employer_fold": None,
        "sector_fold": None,
    }


def _insert(executor: Executor, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    statement = sa.insert(_TEXT)
    if _is_postgres(executor):
        # Computed by the server from the same words; bound parameters, never string-built SQL.
        statement = statement.values(
            tsv=sa.func.to_tsvector(sa.literal_column("'simple'::regconfig"), sa.bindparam("tsv_body"))
        )
        rows = [{**row, "tsv_body": row["body"]} for row in rows]
    executor.execute(statement, rows)


def _delete_sources(executor: Executor, source_ids: list[uuid.UUID]) -> None:
    executor.execute(sa.delete(CaseText).where(col(CaseText.source_id).in_(source_ids)))


def put(executor: Executor, rows: list[dict[str, Any]]) -> None:
    """Insert or replace the index rows of these sources."""
    _delete_sources(executor, [r["source_id"] for r in rows])
    _insert(executor, rows)


def index_case(executor: Executor, values: Any) -> None:
    """(Re)index a case from its current values (a Case, or an object carrying the values being written)."""
    put(executor, [case_row(values)])


def index_testimony(executor: Executor, testimony: Testimony, **changed: Any) -> None:
    """(Re)index a testimony, with `changed` fields overriding the row's; a retracted one is removed."""
    text = changed.get("text", testimony.text)
    translations = changed.get("translations", testimony.translations)
    put(
        executor,
        [
            testimony_row(
                testimony_id=testimony.id, case_id=testimony.case_id, text=text, translations=translations
            )
        ],
    )


def remove_source(executor: Executor, source_id: uuid.UUID) -> None:
    """Drop one record (a retracted testimony) from the index."""
    _delete_sources(executor, [source_id])


def remove_case(executor: Executor, case_id: uuid.UUID) -> None:
    """Drop a case and its testimonies from the index (the case was retracted)."""
    executor.execute(sa.delete(CaseText).where(col(CaseText.case_id) == case_id))


def _batches(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _keyset(connection: sa.Connection, query: Any, key: Any) -> Iterator[Any]:
    """Yield every row of `query` in `key` order, a batch per statement (no cursor held open across writes)."""
    after = None
    while True:
        page = query if after is None else query.where(key > after)
        rows = connection.execute(page.order_by(key).limit(_BATCH)).all()
        yield from rows
        if len(rows) < _BATCH:
            return
        after = rows[-1].id


def rebuild_text_index(connection: sa.Connection) -> int:
    """Rebuild the whole index from the cases and testimonies in the database; return the rows written.

    Runs on the caller's connection and transaction (commit it afterwards). Use after bulk loads that wrote
    cases or testimonies without the services.
    """
    # On SQLite the triggers on case_text keep case_fts in step, row by row.
    connection.execute(sa.delete(CaseText))
    cases = sa.select(
        col(Case.id),
        col(Case.title),
        col(Case.summary),
        col(Case.narrative),
        col(Case.region),
        col(Case.place),
        col(Case.employer),
        col(Case.sector),
    ).where(col(Case.retracted_at).is_(None))
    written = 0
    for batch in _batches(case_row(r) for r in _keyset(connection, cases, col(Case.id))):
        _insert(connection, batch)
        written += len(batch)
    testimonies = (
        sa.select(col(Testimony.id), col(Testimony.case_id), col(Testimony.text), col(Testimony.translations))
        .join(Case, col(Case.id) == col(Testimony.case_id))
        .where(col(Testimony.retracted_at).is_(None), col(Case.retracted_at).is_(None))
    )
    rows = (
        testimony_row(testimony_id=r.id, case_id=r.case_id, text=r.text, translations=r.translations)
        for r in _keyset(connection, testimonies, col(Testimony.id))
    )
    for batch in _batches(rows):
        _insert(connection, batch)
        written += len(batch)
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("INSERT INTO case_fts(case_fts) VALUES ('optimize')")
    return written
