"""The index of live victim involvements carries the victim's status

Statistics by victim status read, for each person who is a victim in several cases, their status in each:
with the status in the index they read no involvement row (SQLite looked up 228,000 rows at a million cases).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE_VICTIM = "role = 'victim' AND retracted_at IS NULL"


def _live_victim_index(columns: list[str]) -> None:
    op.drop_index("ix_involvement_live_victim", table_name="involvement")
    op.create_index(
        "ix_involvement_live_victim",
        "involvement",
        columns,
        sqlite_where=sa.text(_LIVE_VICTIM),
        postgresql_where=sa.text(_LIVE_VICTIM),
    )
    if op.get_bind().dialect.name == "sqlite":  # the planner weighs the index by its statistics
        op.execute("ANALYZE involvement")


def upgrade() -> None:
    _live_victim_index(["person_id", "case_id", "victim_status"])


def downgrade() -> None:
    _live_victim_index(["person_id", "case_id"])
