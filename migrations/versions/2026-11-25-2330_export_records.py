"""Export records: who exported what, for whom, with the file's SHA-256 and what was withheld

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.helpers import drop_append_only, make_append_only

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "export_record",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("selection", JSON, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("withheld", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user_account.id"],
            name=op.f("fk_export_record_actor_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_record")),
    )
    with op.batch_alter_table("export_record", schema=None) as batch_op:
        batch_op.create_index("ix_export_record_actor_created", ["actor_id", "created_at"], unique=False)
    make_append_only("export_record")


def downgrade() -> None:
    drop_append_only("export_record")
    with op.batch_alter_table("export_record", schema=None) as batch_op:
        batch_op.drop_index("ix_export_record_actor_created")
    op.drop_table("export_record")
