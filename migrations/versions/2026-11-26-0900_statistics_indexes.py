"""Statistics facets and indexes: people per victim status on each case; covering indexes (SQLite)

Each case gets `victim_statuses`: every status among its live victims with how many of them are people, so
that statistics by victim status read the cases, not the involvements. On SQLite, a case row holds its long
texts inline and the facet columns after them, so reading a facet walks the row's overflow pages: two covering
indexes (led by country and date, and by id) let statistics and the sub-selects on case ids read no row. The
country-and-date index they replace stays on PostgreSQL. On both, a partial index lists each person's live
victim involvements and the people index carries the id.

Migration 0007 created the full-text index empty: a database that held cases before it found none of them by
their words. Every unretracted case and testimony without an index row gets one here (a no-op elsewhere).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 09:00:00
"""

import json
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

import sqlalchemy as sa
from alembic import op

# The words exactly as the services index them today (as 0008 uses their fold): a later change to them must
# come with a migration that rebuilds the index (api.search.index.rebuild_text_index).
from api.search.text import index_body

# The SQL below is built from fixed column names and constants only.
# ruff: noqa: S608

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As api.models.case.FACET_COLUMNS on this revision, written out: a migration must not change with the code.
_COVERED = (
    "date_hi",
    "confidentiality",
    "retracted_at",
    "created_by",
    "status",
    "region_fold",
    "place_fold",
    "employer_fold",
    "sector_fold",
    "category_codes",
    "victim_mask",
    "victims",
    "victim_people",
    "victim_statuses",
    "urgent",
    "language",
    "updated_at",
    "date_precision",
    "region",
    "employer",
)
_LIVE_VICTIM = "role = 'victim' AND retracted_at IS NULL"


_BATCH = 2000


def _keyset(conn: sa.Connection, sql: str, key: str) -> Iterator[Any]:
    """Every row of `sql` (a SELECT whose WHERE ends open), a batch at a time in `key` order: no cursor stays
    open while the index rows are written."""
    after = None
    while True:
        page = conn.execute(
            sa.text(f"{sql} {'' if after is None else f'AND {key} > :after'} ORDER BY {key} LIMIT {_BATCH}"),
            {} if after is None else {"after": after},
        ).all()
        yield from page
        if len(page) < _BATCH:
            return
        after = page[-1][0]


def _index_missing_texts(conn: sa.Connection) -> None:
    """Index rows for the unretracted cases and testimonies that have none, as api.search.index writes them.

    Ids are read and written back as the driver gives them (32 hex digits on SQLite, uuid on PostgreSQL).
    """
    unindexed = "NOT EXISTS (SELECT 1 FROM case_text t WHERE t.source_id = {})"
    cases = _keyset(
        conn,
        "SELECT c.id, c.title, c.summary, c.narrative FROM case_record c "
        f"WHERE c.retracted_at IS NULL AND {unindexed.format('c.id')}",
        "c.id",
    )
    testimonies = _keyset(
        conn,
        "SELECT s.id, s.case_id, s.text, s.translations FROM testimony s JOIN case_record c ON c.id = s.case_id "
        f"WHERE s.retracted_at IS NULL AND c.retracted_at IS NULL AND {unindexed.format('s.id')}",
        "s.id",
    )

    def texts(text: str, translations: Any) -> list[str | None]:
        if isinstance(translations, str):
            translations = json.loads(translations)
        return [text, *(t.get("text") for t in (translations or []) if isinstance(t, dict))]

    tsv = ", to_tsvector('simple', :body)" if conn.dialect.name == "postgresql" else ""
    insert = sa.text(
        f"INSERT INTO case_text (source_id, case_id, kind, body{', tsv' if tsv else ''}) "
        f"VALUES (:source, :case, :kind, :body{tsv})"
    )
    batch: list[dict[str, Any]] = []
    for row in cases:
        batch.append({"source": row[0], "case": row[0], "kind": "case", "body": index_body(row[1:4])})
        if len(batch) == _BATCH:
            conn.execute(insert, batch)
            batch = []
    for row in testimonies:
        body = index_body(texts(row[2], row[3]))
        batch.append({"source": row[0], "case": row[1], "kind": "testimony", "body": body})
        if len(batch) == _BATCH:
            conn.execute(insert, batch)
            batch = []
    if batch:
        conn.execute(insert, batch)


def upgrade() -> None:
    conn = op.get_bind()
    _index_missing_texts(conn)
    op.add_column("case_record", sa.Column("victim_statuses", sa.Text(), server_default="", nullable=False))
    # As api.search.index.status_signature (written out here): "status=people" per status present among the
    # live victims, sorted, "-" for no status. Built in Python from one grouped pass (SQLite's group_concat
    # has no order of its own), then written through a temporary table by one UPDATE.
    op.execute(
        "CREATE TEMPORARY TABLE status_sets AS "
        "SELECT id AS case_id, victim_statuses AS statuses FROM case_record WHERE 1 = 0"
    )
    grouped = conn.execute(
        sa.text(
            "SELECT case_id, coalesce(victim_status, '-') AS status, count(person_id) AS people FROM involvement "
            "WHERE role = 'victim' AND retracted_at IS NULL GROUP BY case_id, victim_status ORDER BY case_id"
        )
    )
    insert = sa.text("INSERT INTO status_sets (case_id, statuses) VALUES (:case_id, :statuses)")
    batch: list[dict[str, Any]] = []
    current: Any = None
    people: dict[str, int] = {}
    for case_id, status, n in chain(grouped, [(None, None, 0)]):
        if case_id != current:
            if current is not None:
                batch.append(
                    {"case_id": current, "statuses": " ".join(f"{k}={people[k]}" for k in sorted(people))}
                )
                if len(batch) == _BATCH:
                    conn.execute(insert, batch)
                    batch = []
            current, people = case_id, {}
        if status is not None:
            people[status] = people.get(status, 0) + int(n)
    if batch:
        conn.execute(insert, batch)
    op.execute("CREATE UNIQUE INDEX status_sets_case ON status_sets (case_id)")
    op.execute(
        "UPDATE case_record SET victim_statuses = "
        "(SELECT statuses FROM status_sets s WHERE s.case_id = case_record.id) "
        "WHERE id IN (SELECT case_id FROM status_sets)"
    )
    op.execute("DROP TABLE status_sets")
    if conn.dialect.name == "sqlite":
        op.create_index("ix_case_record_facets", "case_record", ["country", "date_lo", *_COVERED, "id"])
        op.create_index("ix_case_record_id_facets", "case_record", ["id", "country", "date_lo", *_COVERED])
        op.drop_index("ix_case_record_country_date_lo", table_name="case_record")
    op.create_index(
        "ix_involvement_live_victim",
        "involvement",
        ["person_id", "case_id"],
        sqlite_where=sa.text(_LIVE_VICTIM),
        postgresql_where=sa.text(_LIVE_VICTIM),
    )
    op.drop_index("ix_person_victim_cases", table_name="person")
    op.create_index("ix_person_victim_cases", "person", ["victim_cases", "id"])
    if op.get_bind().dialect.name == "sqlite":  # the planner weighs the new indexes by their statistics
        for table in ("case_record", "involvement", "person"):
            op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    op.drop_index("ix_person_victim_cases", table_name="person")
    op.create_index("ix_person_victim_cases", "person", ["victim_cases"])
    op.drop_index("ix_involvement_live_victim", table_name="involvement")
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_case_record_country_date_lo", "case_record", ["country", "date_lo"])
        op.drop_index("ix_case_record_id_facets", table_name="case_record")
        op.drop_index("ix_case_record_facets", table_name="case_record")
    op.execute("ALTER TABLE case_record DROP COLUMN victim_statuses")
