"""The full-text and facet index of cases: one row per searchable record, maintained by api.search.index."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Field, SQLModel

# A tsvector on PostgreSQL; on SQLite the column stays NULL (the FTS5 table `case_fts` indexes `body` there).
TSVectorType = sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql")


class CaseText(SQLModel, table=True):
    """Searchable text of a case (kind `case`) or of one of its unretracted testimonies (kind `testimony`).

    `body` holds the words of the record, case-folded and separated by single spaces, so that SQLite FTS5,
    PostgreSQL's `simple` configuration and the snippet highlighter all see the same tokens. (The case-folded
    place and employer fields live on case_record since migration 0008.)
    """

    __tablename__ = "case_text"
    __table_args__ = (
        # GIN on PostgreSQL; on SQLite the column is always NULL, so the partial index stays empty.
        sa.Index("ix_case_text_tsv", "tsv", postgresql_using="gin", sqlite_where=sa.text("tsv IS NOT NULL")),
    )

    # An integer key: the FTS5 table refers to rows by rowid, which must survive VACUUM.
    id: int | None = Field(default=None, primary_key=True, sa_type=sa.Integer)
    source_id: uuid.UUID = Field(sa_type=sa.Uuid, nullable=False, unique=True)
    case_id: uuid.UUID = Field(
        sa_type=sa.Uuid, foreign_key="case_record.id", nullable=False, index=True, ondelete="CASCADE"
    )
    kind: str = Field(sa_type=sa.String(16), nullable=False)
    body: str = Field(default="", sa_type=sa.Text, nullable=False)
    tsv: Any = Field(default=None, sa_type=TSVectorType, nullable=True)
