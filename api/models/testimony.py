"""A testimony: what a source said, who took it, when, in which language, and how reliable the source is."""

from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa
from sqlmodel import Field

from api.models.base import Audited, fk_field, str_field, uuid_pk


class Testimony(Audited, table=True):
    __tablename__ = "testimony"

    id: uuid.UUID = uuid_pk()
    case_id: uuid.UUID = fk_field("case_record.id")
    source_person_id: uuid.UUID = fk_field("person.id")
    taken_by: uuid.UUID = fk_field("user_account.id", index=False)
    taken_at: date = Field(nullable=False)
    place: str | None = str_field(200, nullable=True)
    language: str = str_field(16)
    # {"text": ..., "translations": [...]} sealed under the identity key (api.testimonies.texts): a testimony
    # names people in words no field can guard, so the database holds none of its words in clear.
    sealed_text: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    reliability: str = str_field(24)
