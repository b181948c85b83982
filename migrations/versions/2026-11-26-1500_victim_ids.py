"""Each case lists its victims who are victims in other involvements too, for statistics

`case_record.victim_ids`: "<person id>:<status>" (32 hex digits; "-" for no status), sorted, for each live
victim involvement of the case whose person has more than one live victim involvement. Statistics add up
each case's people (victim_people) in one pass over the cases and take the repeats off from these lists in
the same pass; before, the people in several cases were read again from the involvements and matched to the
cases (1.0-1.4 s of a statistics request at a million cases). On SQLite the statistics' covering index
carries the column.

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


def _backfill(conn: sa.Connection) -> None:
    """As api.search.index.rebuild_victim_ids (written out here, and counting the people's involvements
    itself): one pass over the repeated people's live victim involvements in case order, written through a
    temporary table by one UPDATE."""
    op.execute(
        "CREATE TEMPORARY TABLE victim_id_sets AS SELECT id AS case_id, victim_ids AS ids FROM case_record WHERE 1 = 0"
    )
    victims = conn.execute(
        sa.text(
            "SELECT case_id, coalesce(victim_status, '-'), person_id FROM involvement "
            "WHERE role = 'victim' AND retracted_at IS NULL AND person_id IN (SELECT person_id FROM involvement "
            "WHERE role = 'victim' AND retracted_at IS NULL AND person_id IS NOT NULL "
            "GROUP BY person_id HAVING count(*) > 1) ORDER BY case_id"
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


def upgrade() -> None:
    conn = op.get_bind()
    op.add_column("case_record", sa.Column("victim_ids", sa.Text(), server_default="", nullable=False))
    _backfill(conn)
    if conn.dialect.name == "sqlite":
        op.drop_index("ix_case_record_facets", table_name="case_record")
        op.create_index(
            "ix_case_record_facets", "case_record", ["country", "date_lo", *_COVERED, "victim_ids", "id"]
        )
        op.execute("ANALYZE case_record")  # the planner weighs the new index by its statistics


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_case_record_facets", table_name="case_record")
        op.create_index("ix_case_record_facets", "case_record", ["country", "date_lo", *_COVERED, "id"])
    op.execute("ALTER TABLE case_record DROP COLUMN victim_ids")
