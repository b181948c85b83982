"""Search: the case_text index (FTS5 on SQLite, GIN tsvector on PostgreSQL), sort and involvement indexes

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-26 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite: an external-content FTS5 table over case_text.body, kept in step by triggers (the documented
# pattern, https://sqlite.org/fts5.html#external_content_tables). remove_diacritics 0 keeps й and ў apart
# from и and у, as PostgreSQL's `simple` configuration does.
_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE case_fts USING fts5(body, content='case_text', content_rowid='id', "
    'tokenize="unicode61 remove_diacritics 0")',
    "CREATE TRIGGER case_fts_ai AFTER INSERT ON case_text BEGIN "
    "INSERT INTO case_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER case_fts_ad AFTER DELETE ON case_text BEGIN "
    "INSERT INTO case_fts(case_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER case_fts_au AFTER UPDATE OF body ON case_text BEGIN "
    "INSERT INTO case_fts(case_fts, rowid, body) VALUES ('delete', old.id, old.body); "
    "INSERT INTO case_fts(rowid, body) VALUES (new.id, new.body); END",
]


_LIVE = sa.text("retracted_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_case_record_updated_at_id", "case_record", ["updated_at", "id"], unique=False)
    op.create_index(
        "ix_involvement_live_role",
        "involvement",
        ["role", "victim_status", "case_id", "person_id"],
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )
    op.create_index(
        "ix_involvement_live_case",
        "involvement",
        ["case_id", "role", "person_id"],
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )
    op.create_table(
        "case_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tsv", sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"), nullable=True),
        sa.Column("region_fold", sa.String(length=200), nullable=True),
        sa.Column("place_fold", sa.String(length=200), nullable=True),
        sa.Column("employer_fold", sa.String(length=300), nullable=True),
        sa.Column("sector_fold", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_record.id"],
            name=op.f("fk_case_text_case_id_case_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_text")),
        sa.UniqueConstraint("source_id", name=op.f("uq_case_text_source_id")),
    )
    op.create_index(op.f("ix_case_text_case_id"), "case_text", ["case_id"], unique=False)
    for name in ("region", "place", "employer", "sector"):
        op.create_index(f"ix_case_text_{name}_fold", "case_text", [f"{name}_fold", "case_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_case_text_tsv", "case_text", ["tsv"], unique=False, postgresql_using="gin")
    else:
        # Always empty on SQLite (tsv stays NULL there); it exists so the schema matches the models.
        op.create_index(
            "ix_case_text_tsv", "case_text", ["tsv"], unique=False, sqlite_where=sa.text("tsv IS NOT NULL")
        )
        for statement in _SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_case_text_tsv", table_name="case_text")
    if op.get_bind().dialect.name != "postgresql":
        for trigger in ("case_fts_ai", "case_fts_ad", "case_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS case_fts")
    for name in ("region", "place", "employer", "sector"):
        op.drop_index(f"ix_case_text_{name}_fold", table_name="case_text")
    op.drop_index(op.f("ix_case_text_case_id"), table_name="case_text")
    op.drop_table("case_text")
    op.drop_index("ix_involvement_live_case", table_name="involvement")
    op.drop_index("ix_involvement_live_role", table_name="involvement")
    op.drop_index("ix_case_record_updated_at_id", table_name="case_record")
