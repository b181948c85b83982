"""Drafts of web forms, kept on the server so a lost connection loses nothing."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from api.models.base import fk_field, str_field, ts_field, uuid_pk


class Draft(SQLModel, table=True):
    """A half-filled form of one user, sealed like an identity because it may hold one."""

    __tablename__ = "web_draft"
    __table_args__ = (sa.Index("ix_web_draft_user_updated", "user_id", "updated_at"),)

    id: uuid.UUID = uuid_pk()
    user_id: uuid.UUID = fk_field("user_account.id", index=False, ondelete="CASCADE")
    form: str = str_field(32)  # which form: "case", "testimony", "involvement", "person", ...
    case_id: uuid.UUID | None = fk_field("case_record.id", nullable=True, index=False, ondelete="CASCADE")
    key_id: str = str_field(64)
    sealed: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()
