"""People (pseudonymous by default), their sealed identities, organisations, and consents."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from api.models.base import Audited, fk_field, str_field, text_field, ts_field, uuid_pk


class Organisation(Audited, table=True):
    """A union, employer, state body or court: an actor in cases, named in the open."""

    __tablename__ = "organisation"

    id: uuid.UUID = uuid_pk()
    name: str = str_field(300)
    # casefold(name), for case-insensitive search in any script (SQLite's lower() only folds ASCII).
    name_fold: str = str_field(300, index=True)
    kind: str = str_field(16)
    country: str | None = str_field(2, nullable=True)
    sector: str | None = str_field(200, nullable=True)
    notes: str | None = text_field()


class Person(Audited, table=True):
    """A victim, witness, source or perpetrator, known everywhere by a pseudonym."""

    __tablename__ = "person"
    __table_args__ = (sa.Index("ix_person_victim_cases", "victim_cases", "id"),)

    id: uuid.UUID = uuid_pk()
    pseudonym: str = str_field(200)
    pseudonym_fold: str = str_field(200, index=True)
    counting_unit: str = str_field(16)
    group_size: int | None = Field(default=None)
    risk_status: str = str_field(16)
    relatives_in_country: bool | None = Field(default=None)
    risk_reviewed_on: date | None = Field(default=None)
    organisation_id: uuid.UUID | None = fk_field("organisation.id", nullable=True)
    occupation: str | None = str_field(200, nullable=True)
    # Search facet kept by api.search.index: the person's live victim involvements, in all cases. Statistics
    # add up the cases' victim counts and correct only for the people counted more than once (this above 1).
    victim_cases: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})


class PersonIdentity(SQLModel, table=True):
    """The person's identity, sealed with AES-256-GCM under a key kept outside the database."""

    __tablename__ = "person_identity"

    person_id: uuid.UUID = Field(
        sa_type=sa.Uuid, foreign_key="person.id", primary_key=True, ondelete="CASCADE"
    )
    key_id: str = str_field(64)
    sealed: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    updated_at: datetime = ts_field()


class Consent(SQLModel, table=True):
    """A person's consent to be named to one audience; withdrawal is recorded, never deleted."""

    __tablename__ = "consent"

    id: uuid.UUID = uuid_pk()
    person_id: uuid.UUID = fk_field("person.id")
    audience: str = str_field(16)
    purpose: str | None = text_field()
    granted_at: date = Field(nullable=False)
    method: str = str_field(32)
    text_version: str | None = str_field(200, nullable=True)
    language: str | None = str_field(16, nullable=True)
    notes: str | None = text_field()
    recorded_by: uuid.UUID = fk_field("user_account.id", index=False)
    recorded_at: datetime = ts_field()
    withdrawn_at: date | None = Field(default=None)
    withdrawal_reason: str | None = text_field()
    withdrawal_recorded_by: uuid.UUID | None = fk_field("user_account.id", nullable=True, index=False)
    withdrawal_recorded_at: datetime | None = ts_field(nullable=True)
    version: int = Field(default=1, nullable=False)
