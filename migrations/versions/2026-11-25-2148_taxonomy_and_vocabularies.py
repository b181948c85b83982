"""Taxonomy nodes, closure table, retired codes and HURIDOCS vocabularies; case facet columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 21:48:31.890808
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "taxonomy_closure",
        sa.Column("ancestor", sa.String(length=64), nullable=False),
        sa.Column("descendant", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("ancestor", "descendant", name=op.f("pk_taxonomy_closure")),
    )
    with op.batch_alter_table("taxonomy_closure", schema=None) as batch_op:
        batch_op.create_index("ix_taxonomy_closure_descendant", ["descendant"], unique=False)

    op.create_table(
        "taxonomy_version",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("released", sa.Date(), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_taxonomy_version")),
    )
    op.create_table(
        "vocabulary_term",
        sa.Column("vocabulary", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("huridocs_list", sa.Integer(), nullable=False),
        sa.Column("parent_code", sa.String(length=12), nullable=True),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("labels", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("vocabulary", "code", name=op.f("pk_vocabulary_term")),
    )
    op.create_table(
        "taxonomy_node",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("parent_code", sa.String(length=64), nullable=True),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("is_leaf", sa.Boolean(), nullable=False),
        sa.Column("labels", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("definition", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("norms", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("context", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("urgency_ground", sa.String(length=32), nullable=True),
        sa.Column("proposed", sa.Boolean(), nullable=False),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("retired_in", sa.Integer(), nullable=True),
        sa.Column("replaced_by", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("retirement_note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_taxonomy_node_created_by_user_account")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_taxonomy_node")),
    )
    with op.batch_alter_table("taxonomy_node", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_taxonomy_node_parent_code"), ["parent_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_taxonomy_node_path"), ["path"], unique=False)

    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("location_type", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("violation_status", sa.String(length=12), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.drop_column("violation_status")
        batch_op.drop_column("location_type")

    with op.batch_alter_table("taxonomy_node", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_taxonomy_node_path"))
        batch_op.drop_index(batch_op.f("ix_taxonomy_node_parent_code"))

    op.drop_table("taxonomy_node")
    op.drop_table("vocabulary_term")
    op.drop_table("taxonomy_version")
    with op.batch_alter_table("taxonomy_closure", schema=None) as batch_op:
        batch_op.drop_index("ix_taxonomy_closure_descendant")

    op.drop_table("taxonomy_closure")
