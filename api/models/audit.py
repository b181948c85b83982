"""Append-only security audit log: logins, identity reads, account changes, exports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from api.models.base import JSONType, str_field, ts_field


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_actor_at", "actor_id", "at"),)

    id: int | None = Field(
        default=None, primary_key=True, sa_type=sa.BigInteger().with_variant(sa.Integer, "sqlite")
    )
    at: datetime = ts_field(index=True)
    actor_id: uuid.UUID | None = Field(default=None, sa_type=sa.Uuid, nullable=True)
    action: str = str_field(64)
    target_type: str | None = str_field(32, nullable=True)
    target_id: str | None = str_field(64, nullable=True)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
