"""Cases on the wire: create, update (PATCH), read, and list filters."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictBool, StringConstraints, model_validator

from schemas.base import CountryCode, LanguageCode, LongText, Name, Schema, ShortText, Tag, Title
from schemas.countries import ISO_3166_ALPHA2
from schemas.enums import CaseStatus, Confidentiality, DatePrecision

EARLIEST_EVENT = date(1900, 1, 1)
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?$")

HuridocsCode = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
CategoryCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
]


def _known_country(value: str) -> str:
    if value not in ISO_3166_ALPHA2:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return value


Country = Annotated[CountryCode, AfterValidator(_known_country)]


def _partial_date(value: Any) -> Any:
    """Accept `YYYY` and `YYYY-MM` as the first day of that year or month (EDTF reduced precision)."""
    if not isinstance(value, (str, date)):
        raise ValueError("give the date as a string: YYYY-MM-DD, YYYY-MM or YYYY")
    if isinstance(value, str):
        match = _PARTIAL_DATE.match(value.strip())
        if match:
            year, month = int(match.group(1)), int(match.group(2) or 1)
            if not 1 <= month <= 12:
                raise ValueError("month must be 01-12")
            return date(year, month, 1)
    return value


EventDate = Annotated[date, BeforeValidator(_partial_date)]


def implied_precision(value: Any) -> DatePrecision | None:
    """Return the precision a partial date string implies (`2021` → year, `2021-04` → month)."""
    if isinstance(value, str):
        match = _PARTIAL_DATE.match(value.strip())
        if match:
            return DatePrecision.MONTH if match.group(2) else DatePrecision.YEAR
    return None


class _DatesIn(Schema):
    @model_validator(mode="before")
    @classmethod
    def _precision_from_partial_dates(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("date_precision") is None:
            implied = implied_precision(data.get("occurred_from"))
            if implied is not None:
                data = {**data, "date_precision": implied.value}
        return data


class CaseCreate(_DatesIn):
    """A new case. Dates may be partial: `2021` or `2021-04` imply year or month precision."""

    title: Title
    summary: LongText = ""
    narrative: LongText = ""
    occurred_from: EventDate = Field(
        description="Start of the event: YYYY-MM-DD, or YYYY-MM / YYYY when less is known."
    )
    occurred_to: EventDate | None = Field(default=None, description="End of the event, when it lasted.")
    date_precision: DatePrecision = DatePrecision.DAY
    country: Country
    region: Name | None = None
    place: Name | None = None
    employer: Name | None = None
    sector: Name | None = None
    status: CaseStatus = CaseStatus.DRAFT
    confidentiality: Confidentiality = Confidentiality.INTERNAL
    urgent: StrictBool = False
    urgency_reason: ShortText | None = None
    language: LanguageCode | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] = []
    categories: Annotated[list[CategoryCode], Field(max_length=20)] = []
    primary_category: CategoryCode | None = None
    location_type: HuridocsCode | None = Field(default=None, description="HURIDOCS MT 17 type of location.")
    violation_status: HuridocsCode | None = Field(
        default=None, description="HURIDOCS MT 41 violation status."
    )


class CaseUpdate(_DatesIn):
    """Fields to change; leave out what stays. Send the ETag you read in `If-Match`."""

    title: Title | None = None
    summary: LongText | None = None
    narrative: LongText | None = None
    occurred_from: EventDate | None = None
    occurred_to: EventDate | None = None
    date_precision: DatePrecision | None = None
    country: Country | None = None
    region: Name | None = None
    place: Name | None = None
    employer: Name | None = None
    sector: Name | None = None
    status: CaseStatus | None = None
    confidentiality: Confidentiality | None = None
    urgent: StrictBool | None = None
    urgency_reason: ShortText | None = None
    language: LanguageCode | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None
    categories: Annotated[list[CategoryCode], Field(max_length=20)] | None = None
    primary_category: CategoryCode | None = None
    location_type: HuridocsCode | None = None
    violation_status: HuridocsCode | None = None

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> CaseUpdate:
        for name in (
            "title",
            "occurred_from",
            "date_precision",
            "country",
            "status",
            "confidentiality",
            "urgent",
        ):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Retraction(Schema):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]


class RetractionRead(Schema):
    at: datetime
    by: uuid.UUID
    reason: str | None


class CategoryNotice(Schema):
    """A note on how a submitted category code was interpreted (e.g. a retired code mapped to its replacement)."""

    code: str
    replaced_by: list[str]
    message: str


class CaseRead(Schema):
    id: uuid.UUID
    reference: str = Field(description="Human reference, e.g. PR-2026-000123.")
    title: str
    summary: str
    narrative: str
    occurred_from: date
    occurred_to: date | None
    date_precision: DatePrecision
    earliest: date = Field(description="Earliest day the event may have started, given its precision.")
    latest: date = Field(description="Latest day the event may have ended, given its precision.")
    country: str
    region: str | None
    place: str | None
    employer: str | None
    sector: str | None
    status: CaseStatus
    confidentiality: Confidentiality
    urgent: bool
    urgency_reason: str | None
    language: str | None
    tags: list[str]
    categories: list[str]
    primary_category: str | None
    location_type: str | None = None
    violation_status: str | None = None
    created_by: uuid.UUID
    created_at: datetime
    updated_by: uuid.UUID
    updated_at: datetime
    version: int
    retracted: RetractionRead | None = None
    notices: list[CategoryNotice] = []


class AssignmentCreate(Schema):
    user_id: uuid.UUID


class AssignmentRead(Schema):
    case_id: uuid.UUID
    user_id: uuid.UUID
    assigned_by: uuid.UUID
    assigned_at: datetime
