"""Evidence blobs and items; the append-only custody ledger and its signed tree heads

Revision ID: 0003
Revises: 0006
Create Date: 2026-11-25 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.helpers import drop_append_only, make_append_only

revision: str = "0003"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custody_tree_head",
        sa.Column(
            "tree_size",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("timestamp", sa.String(length=24), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("tsa_url", sa.String(length=500), nullable=True),
        sa.Column("timestamp_response", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_custody_tree_head")),
    )
    op.create_table(
        "evidence_blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=127), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("embedded", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("sealed_identifiers", sa.LargeBinary(), nullable=True),
        sa.Column("identifiers_key_id", sa.String(length=64), nullable=True),
        sa.Column("integrity", sa.String(length=16), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_evidence_blob")),
    )
    op.create_table(
        "evidence_item",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("form", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("captured_by", sa.String(length=200), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("original_filename", sa.String(length=255), nullable=True),
        sa.Column("blob_sha256", sa.String(length=64), nullable=True),
        sa.Column("derived_from_id", sa.Uuid(), nullable=True),
        sa.Column("derivation", sa.String(length=32), nullable=True),
        sa.Column("document_date", sa.Date(), nullable=True),
        sa.Column("sighted_by", sa.String(length=200), nullable=True),
        sa.Column("sighted_by_person_id", sa.Uuid(), nullable=True),
        sa.Column("sighted_on", sa.Date(), nullable=True),
        sa.Column("sighted_place", sa.String(length=200), nullable=True),
        sa.Column("sighted_content", sa.Text(), nullable=True),
        sa.Column("statement_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["blob_sha256"], ["evidence_blob.sha256"], name=op.f("fk_evidence_item_blob_sha256_evidence_blob")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_record.id"],
            name=op.f("fk_evidence_item_case_id_case_record"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_evidence_item_created_by_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["derived_from_id"],
            ["evidence_item.id"],
            name=op.f("fk_evidence_item_derived_from_id_evidence_item"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["sighted_by_person_id"],
            ["person.id"],
            name=op.f("fk_evidence_item_sighted_by_person_id_person"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_item")),
    )
    with op.batch_alter_table("evidence_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_item_blob_sha256"), ["blob_sha256"], unique=False)
        batch_op.create_index("ix_evidence_item_case_created", ["case_id", "created_at", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_evidence_item_derived_from_id"), ["derived_from_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_evidence_item_sighted_by_person_id"), ["sighted_by_person_id"], unique=False
        )

    op.create_table(
        "custody_event",
        sa.Column(
            "leaf_index",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("evidence_id", sa.Uuid(), nullable=True),
        sa.Column("object_digest", sa.String(length=71), nullable=True),
        sa.Column("details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user_account.id"],
            name=op.f("fk_custody_event_actor_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence_item.id"],
            name=op.f("fk_custody_event_evidence_id_evidence_item"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_custody_event")),
    )
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custody_event_evidence_id"), ["evidence_id"], unique=False)
    # The ledger and its signed heads are evidence themselves: the database refuses to change them.
    make_append_only("custody_event")
    make_append_only("custody_tree_head")


def downgrade() -> None:
    drop_append_only("custody_tree_head")
    drop_append_only("custody_event")
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custody_event_evidence_id"))

    op.drop_table("custody_event")
    with op.batch_alter_table("evidence_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_item_sighted_by_person_id"))
        batch_op.drop_index(batch_op.f("ix_evidence_item_derived_from_id"))
        batch_op.drop_index("ix_evidence_item_case_created")
        batch_op.drop_index(batch_op.f("ix_evidence_item_blob_sha256"))

    op.drop_table("evidence_item")
    op.drop_table("evidence_blob")
    op.drop_table("custody_tree_head")
