"""Media reviews: a person's decision on an audio or video release copy, bound to the copy's digest

One row per decision, never changed (a later decision on the same recording takes its place): the original
and the reviewed copy, the SHA-256 of the copy's bytes, approved or refused, the outside audiences it is
approved for, an optional note, who decided and when, and the custody ledger record of the decision.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.helpers import drop_append_only, make_append_only

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "media_review",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
        sa.Column("derivative_id", sa.Uuid(), nullable=False),
        sa.Column("derivative_sha256", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("audiences", JSON, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_record.id"], name="fk_media_review_case_id_case_record", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence_item.id"],
            name="fk_media_review_evidence_id_evidence_item",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["derivative_id"],
            ["evidence_item.id"],
            name="fk_media_review_derivative_id_evidence_item",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["user_account.id"],
            name="fk_media_review_decided_by_user_account",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_media_review"),
    )
    with op.batch_alter_table("media_review", schema=None) as batch_op:
        batch_op.create_index("ix_media_review_case_id", ["case_id"], unique=False)
        batch_op.create_index("ix_media_review_evidence_decided", ["evidence_id", "decided_at"], unique=False)
    # A decision is evidence of who approved what: a later one supersedes it, nothing rewrites it.
    make_append_only("media_review")


def downgrade() -> None:
    drop_append_only("media_review")
    with op.batch_alter_table("media_review", schema=None) as batch_op:
        batch_op.drop_index("ix_media_review_evidence_decided")
        batch_op.drop_index("ix_media_review_case_id")
    op.drop_table("media_review")
