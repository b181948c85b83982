"""Testimonies: what a source said, who took it, in which language, and how reliable the source is."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from schemas.base import IsoDate, LanguageCode, LongText, Name, Schema
from schemas.enums import Reliability


class Translation(Schema):
    language: LanguageCode
    text: LongText
    translated_by: Name | None = None


class TestimonyCreate(Schema):
    source_person_id: uuid.UUID = Field(description="The person who gave the testimony (shown by pseudonym).")
    language: LanguageCode = Field(description="Language the testimony was given in, e.g. be, ru, en.")
    text: LongText
    taken_at: IsoDate
    place: Name | None = None
    translations: Annotated[list[Translation], Field(max_length=10)] = []
    reliability: Reliability = Field(
        default=Reliability.UNKNOWN, description="HURIDOCS MT 42 reliability scale."
    )
    taken_by: uuid.UUID | None = Field(default=None, description="User who took it; defaults to the caller.")


class TestimonyUpdate(Schema):
    language: LanguageCode | None = None
    text: LongText | None = None
    taken_at: IsoDate | None = None
    place: Name | None = None
    translations: Annotated[list[Translation], Field(max_length=10)] | None = None
    reliability: Reliability | None = None


class TestimonyRead(Schema):
    id: uuid.UUID
    case_id: uuid.UUID
    source_person_id: uuid.UUID
    source_pseudonym: str | None = None
    taken_by: uuid.UUID
    taken_at: date
    place: str | None
    language: str
    text: str | None = Field(
        description="What was said; for roles that may not read identities only a version a coordinator "
        "cleared of names, and null until there is one (text_withheld)."
    )
    translations: list[Translation]
    text_withheld: bool = Field(
        default=False, description="True when the text and translations are withheld from you until cleared."
    )
    reliability: Reliability
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int
    retracted_at: datetime | None = None
