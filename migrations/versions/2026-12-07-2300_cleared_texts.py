"""Cleared texts: free text cleared of every recorded person's name for one outside audience, approved by a person

One row per source text (a case's title, summary or narrative, a testimony's text, a translation by language)
and audience, with the SHA-256 of the source it was made from (a changed source makes it stale), the cleared
text, the changes as offsets (never the name forms found), and who proposed and approved it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _user_fk(column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["user_account.id"], name=f"fk_cleared_text_{column}_user_account", ondelete="RESTRICT"
    )


def upgrade() -> None:
    op.create_table(
        "cleared_text",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("source_kind", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("source_language", sa.String(length=16), nullable=False),
        sa.Column("source_sha256", sa.String(length=71), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("changes", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.Uuid(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_record.id"], name="fk_cleared_text_case_id_case_record", ondelete="RESTRICT"
        ),
        _user_fk("proposed_by"),
        _user_fk("approved_by"),
        _user_fk("updated_by"),
        sa.PrimaryKeyConstraint("id", name="pk_cleared_text"),
        sa.UniqueConstraint(
            "source_kind", "source_id", "source_language", "audience", name="uq_cleared_text_source"
        ),
    )
    with op.batch_alter_table("cleared_text", schema=None) as batch_op:
        batch_op.create_index("ix_cleared_text_case_audience", ["case_id", "audience"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cleared_text", schema=None) as batch_op:
        batch_op.drop_index("ix_cleared_text_case_audience")
    op.drop_table("cleared_text")
