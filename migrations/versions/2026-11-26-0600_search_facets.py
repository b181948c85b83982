"""Search facets: folded place fields, victim counts and status bits, category codes on each case

The folded fields move from case_text to case_record, where the filters can use them with the date in one
index instead of a sub-select on UUID keys; each person gets the number of their live victim involvements.
Existing rows are filled in: the folded values once per distinct value, the counts by grouped passes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.search.text import fold

# The SQL below is built from fixed column names and constants only; every value is a bound parameter.
# ruff: noqa: S608

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FOLDED = {"region": 200, "place": 200, "employer": 300, "sector": 200}
# The same numbering as api.search.index.VICTIM_STATUS_BIT, written out: a migration must not change with
# the code that follows it.
_STATUSES = (
    "detained",
    "on_trial",
    "sentenced",
    "under_investigation",
    "released",
    "fined",
    "dismissed",
    "forbidden_workplace",
    "reinstated",
    "exiled",
    "restricted_movement",
    "missing",
    "injured",
    "dead",
    "other",
    "unknown",
)


def _folded(value: str | None) -> str | None:
    return fold(value.strip()) if value and value.strip() else None


def upgrade() -> None:
    for name, length in _FOLDED.items():
        op.add_column("case_record", sa.Column(f"{name}_fold", sa.String(length=length), nullable=True))
    op.add_column("case_record", sa.Column("victims", sa.Integer(), server_default="0", nullable=False))
    op.add_column("case_record", sa.Column("victim_mask", sa.Integer(), server_default="0", nullable=False))
    op.add_column("case_record", sa.Column("victim_people", sa.Integer(), server_default="0", nullable=False))
    op.add_column("case_record", sa.Column("category_codes", sa.Text(), server_default="", nullable=False))
    op.add_column("person", sa.Column("victim_cases", sa.Integer(), server_default="0", nullable=False))

    # Every case row is rewritten once: the values are prepared in temporary tables first (each distinct
    # place or employer folded once, the victims and the codes grouped per case), then one UPDATE reads them.
    conn = op.get_bind()
    op.execute(
        "CREATE TEMPORARY TABLE fold_map (field TEXT, value TEXT, folded TEXT, PRIMARY KEY (field, value))"
    )
    mapping = sa.table("fold_map", sa.column("field"), sa.column("value"), sa.column("folded"))
    for name in _FOLDED:
        source = sa.column(name)
        values = conn.execute(
            sa.select(source).select_from(sa.table("case_record")).where(source.is_not(None)).distinct()
        ).scalars()
        rows = [{"field": name, "value": v, "folded": _folded(v)} for v in values]
        if rows:
            conn.execute(sa.insert(mapping), rows)
    bit = " ".join(f"WHEN '{status}' THEN {1 << n}" for n, status in enumerate(_STATUSES))
    live = "FROM involvement WHERE role = 'victim' AND retracted_at IS NULL"
    op.execute(
        "CREATE TEMPORARY TABLE victim_facets AS "
        f"SELECT case_id, count(*) AS n, sum(DISTINCT CASE victim_status {bit} ELSE 0 END) AS mask, "
        f"count(person_id) AS people {live} GROUP BY case_id"
    )
    op.execute("CREATE UNIQUE INDEX victim_facets_case ON victim_facets (case_id)")
    joined = "string_agg(code, ' ')" if conn.dialect.name == "postgresql" else "group_concat(code, ' ')"
    op.execute(
        f"CREATE TEMPORARY TABLE code_sets AS SELECT case_id, {joined} AS codes FROM "
        "(SELECT case_id, code FROM case_category ORDER BY case_id, code) AS o GROUP BY case_id"
    )
    op.execute("CREATE UNIQUE INDEX code_sets_case ON code_sets (case_id)")
    folds = ", ".join(
        f"{name}_fold = (SELECT folded FROM fold_map WHERE field = '{name}' AND value = case_record.{name})"
        for name in _FOLDED
    )
    victim = "(SELECT {} FROM victim_facets v WHERE v.case_id = case_record.id)"
    op.execute(
        f"UPDATE case_record SET {folds}, "
        + ", ".join(
            f"{column} = coalesce({victim.format(source)}, 0)"
            for column, source in (("victims", "n"), ("victim_mask", "mask"), ("victim_people", "people"))
        )
        + ", category_codes = coalesce((SELECT codes FROM code_sets s WHERE s.case_id = case_record.id), '')"
    )
    op.execute(
        f"UPDATE person SET victim_cases = v.n FROM (SELECT person_id, count(*) AS n {live} "
        "AND person_id IS NOT NULL GROUP BY person_id) AS v WHERE person.id = v.person_id"
    )
    for table in ("fold_map", "victim_facets", "code_sets"):
        op.execute(f"DROP TABLE {table}")
    op.create_index("ix_person_victim_cases", "person", ["victim_cases"], unique=False)
    for name in _FOLDED:
        op.create_index(
            f"ix_case_record_{name}_fold_date", "case_record", [f"{name}_fold", "date_lo", "id"], unique=False
        )
        op.drop_index(f"ix_case_text_{name}_fold", table_name="case_text")
        # A plain ALTER TABLE on both databases: SQLite (3.35+) keeps case_text's FTS triggers this way,
        # where a batch copy of the table would drop them.
        op.execute(f"ALTER TABLE case_text DROP COLUMN {name}_fold")


def downgrade() -> None:
    for name, length in _FOLDED.items():
        op.add_column("case_text", sa.Column(f"{name}_fold", sa.String(length=length), nullable=True))
        op.execute(
            f"UPDATE case_text SET {name}_fold = (SELECT c.{name}_fold FROM case_record c "
            "WHERE c.id = case_text.case_id) WHERE kind = 'case'"
        )
        op.create_index(f"ix_case_text_{name}_fold", "case_text", [f"{name}_fold", "case_id"], unique=False)
        op.drop_index(f"ix_case_record_{name}_fold_date", table_name="case_record")
        op.execute(f"ALTER TABLE case_record DROP COLUMN {name}_fold")
    op.drop_index("ix_person_victim_cases", table_name="person")
    op.execute("ALTER TABLE person DROP COLUMN victim_cases")
    for column in ("category_codes", "victim_people", "victim_mask", "victims"):
        op.execute(f"ALTER TABLE case_record DROP COLUMN {column}")
