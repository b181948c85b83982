"""A person or organisation taking part in a case, in a HURIDOCS role."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from api.models.base import Audited, fk_field, str_field, text_field, uuid_pk


class Involvement(Audited, table=True):
    __tablename__ = "involvement"
    __table_args__ = (
        sa.CheckConstraint("(person_id IS NULL) <> (organisation_id IS NULL)", name="exactly_one_actor"),
        sa.Index("ix_involvement_role_status", "role", "victim_status"),
        # Search, statistics and research exports read only unretracted involvements; these cover their filters,
        # counts and the victims-by-status column of an export.
        sa.Index(
            "ix_involvement_live_role",
            "role",
            "victim_status",
            "case_id",
            "person_id",
            sqlite_where=sa.text("retracted_at IS NULL"),
            postgresql_where=sa.text("retracted_at IS NULL"),
        ),
        sa.Index(
            "ix_involvement_live_case",
            "case_id",
            "role",
            "victim_status",
            "person_id",
            sqlite_where=sa.text("retracted_at IS NULL"),
            postgresql_where=sa.text("retracted_at IS NULL"),
        ),
        # A person's live victim involvements with their status: refresh_victims finds a person's cases from
        # the index alone (api.search.index).
        sa.Index(
            "ix_involvement_live_victim",
            "person_id",
            "case_id",
            "victim_status",
            sqlite_where=sa.text("role = 'victim' AND retracted_at IS NULL"),
            postgresql_where=sa.text("role = 'victim' AND retracted_at IS NULL"),
        ),
    )

    id: uuid.UUID = uuid_pk()
    case_id: uuid.UUID = fk_field("case_record.id")
    person_id: uuid.UUID | None = fk_field("person.id", nullable=True)
    organisation_id: uuid.UUID | None = fk_field("organisation.id", nullable=True)
    role: str = str_field(24)
    victim_status: str | None = str_field(24, nullable=True)
    perpetrator_type: str | None = str_field(16, nullable=True)
    detention_type: str | None = str_field(16, nullable=True)
    description: str | None = text_field()
