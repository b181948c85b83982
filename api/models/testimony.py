"""A testimony: what a source said, who took it, when, in which language, and how reliable the source is."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlmodel import Field

from api.models.base import Audited, JSONType, fk_field, str_field, text_field, uuid_pk


class Testimony(Audited, table=True):
    __tablename__ = "testimony"

    id: uuid.UUID = uuid_pk()
    case_id: uuid.UUID = fk_field("case_record.id")
    source_person_id: uuid.UUID = fk_field("person.id")
    taken_by: uuid.UUID = fk_field("user_account.id", index=False)
    taken_at: date = Field(nullable=False)
    place: str | None = str_field(200, nullable=True)
    language: str = str_field(16)
    text: str = text_field(nullable=False)
    translations: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    reliability: str = str_field(24)
