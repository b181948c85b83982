"""Append-only history of every change to cases, people, consents, involvements and testimonies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from api.models.base import JSONType, fk_field, str_field, ts_field


class Revision(SQLModel, table=True):
    """One change: who, when, which fields, before and after. The database refuses UPDATE and DELETE."""

    __tablename__ = "revision"
    __table_args__ = (
        sa.Index("ix_revision_entity", "entity_type", "entity_id", "id"),
        sa.Index("ix_revision_case", "case_id", "id"),
    )

    id: int | None = Field(
        default=None, primary_key=True, sa_type=sa.BigInteger().with_variant(sa.Integer, "sqlite")
    )
    entity_type: str = str_field(32)
    entity_id: uuid.UUID = Field(sa_type=sa.Uuid, nullable=False)
    case_id: uuid.UUID | None = Field(default=None, sa_type=sa.Uuid, nullable=True)
    version: int = Field(nullable=False)
    action: str = str_field(16)
    actor_id: uuid.UUID = fk_field("user_account.id", index=False)
    at: datetime = ts_field()
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    # Identity fields changed in this revision, sealed like PersonIdentity (before/after), if any.
    sealed_identity: bytes | None = Field(default=None, sa_type=sa.LargeBinary, nullable=True)
    reason: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
