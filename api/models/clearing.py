"""A cleared version of one free text for one outside audience: proposed by the software, approved by a person."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from api.models.base import JSONType, UTCDateTime, fk_field, str_field, ts_field, uuid_pk


class ClearedText(SQLModel, table=True):
    """One source text (a case's title, summary or narrative, a testimony, a translation) cleared for one
    audience. It counts only while `source_sha256` is the digest of the source as it stands (else stale).

    `changes` lists each replaced span as offsets into the source, the pseudonym put in, the person's id, a
    confidence and reason codes: never the name form found, which stored here would be identities in clear.
    """

    __tablename__ = "cleared_text"
    __table_args__ = (
        sa.UniqueConstraint(
            "source_kind", "source_id", "source_language", "audience", name="uq_cleared_text_source"
        ),
        sa.Index("ix_cleared_text_case_audience", "case_id", "audience"),
    )

    id: uuid.UUID = uuid_pk()
    case_id: uuid.UUID = fk_field("case_record.id", index=False)
    # case.title, case.summary, case.narrative, testimony.text, testimony.translation (schemas.clearing).
    source_kind: str = str_field(32)
    # The case's id for its own fields, the testimony's for its text and translations.
    source_id: uuid.UUID = Field(sa_type=sa.Uuid, nullable=False)
    # The language of a translation; "" for every other source (NULLs would not be unique).
    source_language: str = str_field(16, default="")
    # sha256:<hex> of the UTF-8 source text the clearing was made from.
    source_sha256: str = str_field(71)
    audience: str = str_field(16)
    text: str = Field(sa_type=sa.Text, nullable=False)
    changes: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    status: str = str_field(16)
    proposed_by: uuid.UUID = fk_field("user_account.id", index=False)
    proposed_at: datetime = ts_field()
    approved_by: uuid.UUID | None = fk_field("user_account.id", nullable=True, index=False)
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    updated_by: uuid.UUID = fk_field("user_account.id", index=False)
    updated_at: datetime = ts_field()
    version: int = Field(default=1, nullable=False)
