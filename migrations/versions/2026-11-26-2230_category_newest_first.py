"""Each case_category row carries its case's created_at, indexed after the code

A search for one category in the default order (newest first) walks a category's cases in that order in one
index and stops at the page, instead of looking up every case filed under the category and sorting them all
(a leaf's newest 1,001 of 7,463 cases at a million: 40 ms that way, 8 ms this way, on SQLite). created_at never
changes, so the copy never goes stale; the services write it with each row.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("case_category", sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE case_category SET created_at = "
        "(SELECT c.created_at FROM case_record c WHERE c.id = case_category.case_id)"
    )
    # A row whose case is gone (left by a bulk load with foreign keys off) has no time to copy: it filed
    # nothing that can be found, and is dropped rather than left to fail the NOT NULL below.
    op.execute("DELETE FROM case_category WHERE created_at IS NULL")
    with op.batch_alter_table("case_category") as batch:
        batch.alter_column("created_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_index("ix_case_category_code_created", "case_category", ["code", "created_at", "case_id"])
    if op.get_bind().dialect.name == "sqlite":  # the planner weighs the new index by its statistics
        op.execute("ANALYZE case_category")


def downgrade() -> None:
    op.drop_index("ix_case_category_code_created", table_name="case_category")
    with op.batch_alter_table("case_category") as batch:
        batch.drop_column("created_at")
