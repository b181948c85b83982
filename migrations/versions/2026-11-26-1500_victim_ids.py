"""Each case lists its victims who are victims in other involvements too, for statistics

`case_record.victim_ids`: "<person id>:<status>" (32 hex digits; "-" for no status), sorted, for each live
victim involvement of the case whose person has more than one live victim involvement (person.victim_cases,
recounted here first). Statistics add up each case's people (victim_people) in one pass over the cases and
take the repeats off from these lists in the same pass; before, the people in several cases were read again
from the involvements and matched to the cases (1.0-1.4 s of a statistics request at a million cases). On
SQLite both covering indexes carry the column.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 15:00:00
"""

import uuid
from collections.abc import Sequence
from itertools import chain
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
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
_BATCH = 2000


def _hex(person: Any) -> str:
    """As api.search.index.person_hex: SQLite gives 32 hex digits, psycopg a UUID."""
    return person.hex if isinstance(person, uuid.UUID) else str(person).replace("-", "").lower()


_COUNT = (
    "(SELECT count(*) FROM involvement i "
    "WHERE i.person_id = person.id AND i.role = 'victim' AND i.retracted_at IS NULL)"
)


def _recount_people(conn: sa.Connection) -> None:
    """person.victim_cases as api.search.index.rebuild_person_facets counts it, where it is not that already:
    the services decide from it when a person's cases must be listed again."""
    conn.execute(sa.text(f"UPDATE person SET victim_cases = {_COUNT} WHERE victim_cases <> {_COUNT}"))  # noqa: S608 (constants)


def _backfill(conn: sa.Connection) -> None:
    """As api.search.index.rebuild_victim_ids (written out here): one pass over the live victim involvements
    of people in more than one, in case order, written through a temporary table by one UPDATE."""
    op.execute(
        "CREATE TEMPORARY TABLE victim_id_sets AS SELECT id AS case_id, victim_ids AS ids FROM case_record WHERE 1 = 0"
    )
    victims = conn.execute(
        sa.text(
            "SELECT i.case_id, coalesce(i.victim_status, '-'), i.person_id FROM involvement i "
            "JOIN person p ON p.id = i.person_id "
            "WHERE i.role = 'victim' AND i.retracted_at IS NULL AND p.victim_cases > 1 ORDER BY i.case_id"
        )
    )
    insert = sa.text("INSERT INTO victim_id_sets (case_id, ids) VALUES (:case_id, :ids)")
    batch: list[dict[str, Any]] = []
    current: Any = None
    tokens: list[str] = []
    for case_id, status, person in chain(victims, [(None, None, None)]):
        if case_id != current:
            if current is not None:
                batch.append({"case_id": current, "ids": " ".join(sorted(tokens))})
                if len(batch) == _BATCH:
                    conn.execute(insert, batch)
                    batch = []
            current, tokens = case_id, []
        if person is not None:
            tokens.append(f"{_hex(person)}:{status}")
    if batch:
        conn.execute(insert, batch)
    op.execute("CREATE UNIQUE INDEX victim_id_sets_case ON victim_id_sets (case_id)")
    op.execute(
        "UPDATE case_record SET victim_ids = (SELECT ids FROM victim_id_sets s WHERE s.case_id = case_record.id) "
        "WHERE id IN (SELECT case_id FROM victim_id_sets)"
    )
    op.execute("DROP TABLE victim_id_sets")


def _covering_indexes(extra: list[str]) -> None:
    """SQLite: the two covering indexes of case_record, rebuilt with `extra` after their columns."""
    for name, columns in (
        ("ix_case_record_facets", ["country", "date_lo", *_COVERED, *extra, "id"]),
        ("ix_case_record_id_facets", ["id", "country", "date_lo", *_COVERED, *extra]),
    ):
        op.drop_index(name, table_name="case_record")
        op.create_index(name, "case_record", columns)
    op.execute("ANALYZE case_record")  # the planner weighs the new indexes by their statistics


def upgrade() -> None:
    conn = op.get_bind()
    op.add_column("case_record", sa.Column("victim_ids", sa.Text(), server_default="", nullable=False))
    _recount_people(conn)
    _backfill(conn)
    if conn.dialect.name == "sqlite":
        _covering_indexes(["victim_ids"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _covering_indexes([])
    op.execute("ALTER TABLE case_record DROP COLUMN victim_ids")
