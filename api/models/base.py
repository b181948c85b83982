"""Column types and mixins shared by every table; portable between SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

# Deterministic constraint names, so migrations can refer to them on both databases.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores naive UTC text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON documents: JSONB on PostgreSQL, JSON text on SQLite.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.now(UTC)


def uuid_pk() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True, sa_type=sa.Uuid)


def ts_field(*, nullable: bool = False, index: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)


def str_field(length: int, *, nullable: bool = False, index: bool = False, default: Any = ...) -> Any:
    if nullable and default is ...:
        default = None
    return Field(default=default, sa_type=sa.String(length), nullable=nullable, index=index)


def text_field(*, nullable: bool = True, default: Any = None) -> Any:
    return Field(default=default, sa_type=sa.Text, nullable=nullable)


def fk_field(
    target: str,
    *,
    nullable: bool = False,
    index: bool = True,
    ondelete: Literal["CASCADE", "SET NULL", "RESTRICT"] = "RESTRICT",
) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_type=sa.Uuid,
        foreign_key=target,
        nullable=nullable,
        index=index,
        ondelete=ondelete,
    )


class Audited(SQLModel):
    """Who created and last changed a record, its optimistic-locking version, and its retraction."""

    created_by: uuid.UUID = Field(sa_type=sa.Uuid, foreign_key="user_account.id", nullable=False)
    created_at: datetime = ts_field()
    updated_by: uuid.UUID = Field(sa_type=sa.Uuid, foreign_key="user_account.id", nullable=False)
    updated_at: datetime = ts_field()
    version: int = Field(default=1, nullable=False)
    retracted_at: datetime | None = ts_field(nullable=True)
    retracted_by: uuid.UUID | None = Field(default=None, sa_type=sa.Uuid, foreign_key="user_account.id")
    retraction_reason: str | None = text_field()


__all__ = [
    "Audited",
    "JSONType",
    "UTCDateTime",
    "date",
    "fk_field",
    "str_field",
    "text_field",
    "ts_field",
    "utcnow",
    "uuid_pk",
]
