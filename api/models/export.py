"""A record of every export: who, when, for which audience, which selection, the file's digest, what was withheld."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from api.models.base import JSONType, fk_field, str_field, ts_field, uuid_pk


class ExportRecord(SQLModel, table=True):
    """Append-only: the database refuses UPDATE and DELETE."""

    __tablename__ = "export_record"
    __table_args__ = (sa.Index("ix_export_record_actor_created", "actor_id", "created_at"),)

    id: uuid.UUID = uuid_pk()
    created_at: datetime = ts_field()
    actor_id: uuid.UUID = fk_field("user_account.id", index=False)
    kind: str = str_field(32)
    format: str = str_field(16)
    audience: str = str_field(16)
    selection: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    sha256: str = str_field(64)
    size: int = Field(sa_type=sa.BigInteger, nullable=False)
    withheld: list[Any] = Field(default_factory=list, sa_type=JSONType, nullable=False)
