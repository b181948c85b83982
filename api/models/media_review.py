"""A person's decision on an audio or video release copy: approved for named outside audiences, or refused."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from api.models.base import JSONType, fk_field, str_field, text_field, ts_field, uuid_pk


class MediaReview(SQLModel, table=True):
    """One decision, never changed: a later decision on the same recording takes its place.

    It binds the digest of the copy the reviewer downloaded (`derivative_sha256`): a bundle ships that copy
    only while its stored bytes still have this digest. `note` may name people and is shown only to roles
    that may read identities; it never enters the custody ledger, which travels with bundles.
    """

    __tablename__ = "media_review"
    __table_args__ = (sa.Index("ix_media_review_evidence_decided", "evidence_id", "decided_at"),)

    id: uuid.UUID = uuid_pk()
    case_id: uuid.UUID = fk_field("case_record.id")
    # The original recording, and the release copy that was reviewed (a working copy derived from it).
    evidence_id: uuid.UUID = fk_field("evidence_item.id", index=False)
    derivative_id: uuid.UUID = fk_field("evidence_item.id", index=False)
    derivative_sha256: str = str_field(64)
    decision: str = str_field(16)
    audiences: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    note: str | None = text_field()
    decided_by: uuid.UUID = fk_field("user_account.id", index=False)
    decided_at: datetime = ts_field()
    # The custody ledger record of the decision (action `reviewed`).
    leaf_index: int = Field(sa_type=sa.BigInteger, nullable=False)
