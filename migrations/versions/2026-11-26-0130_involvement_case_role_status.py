"""Involvement: an index covering a case's victims and their statuses

Search filters on victims, statistics by victim status and research exports read "the victims of this case
and their statuses" once per case; with (case_id, role, victim_status, retracted_at) that read never touches the table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 01:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_involvement_case_role_status",
        "involvement",
        ["case_id", "role", "victim_status", "retracted_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_involvement_case_role_status", table_name="involvement")
