"""Search and statistics on the wire: the case-list filters, list items with snippets, grouped counts."""

from __future__ import annotations

import calendar
import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from schemas.base import LanguageCode, Name, Schema, Tag
from schemas.case import CaseRead, CategoryCode, Country
from schemas.enums import CaseStatus, Confidentiality, InvolvementRole, VictimStatus

_DATE_BOUND = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _date_bound(value: Any, *, end: bool) -> date:
    if isinstance(value, date):
        return value
    match = _DATE_BOUND.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError("give the date as YYYY-MM-DD, YYYY-MM or YYYY")
    year = int(match.group(1))
    month, day = (int(g) if g else None for g in match.groups()[1:])
    try:
        if month is None:
            return date(year, 12, 31) if end else date(year, 1, 1)
        if day is None:
            return date(year, month, calendar.monthrange(year, month)[1] if end else 1)
        return date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"not a calendar date: {exc}") from None


# `2021` as a lower bound is 2021-01-01; as an upper bound 2021-12-31 (the whole year); likewise for months.
DateFrom = Annotated[date, BeforeValidator(lambda v: _date_bound(v, end=False))]
DateTo = Annotated[date, BeforeValidator(lambda v: _date_bound(v, end=True))]
SearchText = Annotated[str, Field(min_length=1, max_length=500)]

Sort = Literal["newest", "date", "date_asc", "updated", "relevance"]
GroupBy = Literal["category", "year", "month", "country", "region", "employer", "victim_status"]


class CaseFilterQuery(Schema):
    """Filters shared by the case list and the statistics; all combine with AND. Unknown parameters are refused."""

    status: list[CaseStatus] = Field(default=[], description="Any of these statuses (repeatable).")
    confidentiality: list[Confidentiality] = Field(default=[], description="Any of these (repeatable).")
    country: list[Country] = Field(default=[], max_length=50, description="ISO 3166 codes (repeatable, any).")
    region: Name | None = Field(default=None, description="Exact match, ignoring letter case.")
    place: Name | None = Field(default=None, description="Exact match, ignoring letter case.")
    employer: Name | None = Field(default=None, description="Exact match, ignoring letter case.")
    sector: Name | None = Field(default=None, description="Exact match, ignoring letter case.")
    category: list[CategoryCode] = Field(
        default=[],
        max_length=20,
        description="Taxonomy codes: cases filed under the node or below (repeatable).",
    )
    category_match: Literal["any", "all"] = Field(
        default="any", description="`any`: under at least one of the categories; `all`: under each of them."
    )
    date_from: DateFrom | None = Field(
        default=None,
        description="Events that may have happened on or after this day (YYYY, YYYY-MM: its start).",
    )
    date_to: DateTo | None = Field(
        default=None,
        description="Events that may have happened on or before this day (YYYY, YYYY-MM: its end).",
    )
    victim_status: list[VictimStatus] = Field(default=[], description="A victim in any of these situations.")
    role: list[InvolvementRole] = Field(default=[], description="Someone involved in any of these roles.")
    organisation: uuid.UUID | None = Field(
        default=None, description="The organisation is involved, or a person involved belongs to it."
    )
    victims_min: int | None = Field(
        default=None, ge=0, le=1_000_000, description="At least this many victims."
    )
    victims_max: int | None = Field(
        default=None, ge=0, le=1_000_000, description="At most this many victims."
    )
    urgent: bool | None = None
    language: LanguageCode | None = None
    tag: list[Tag] = Field(default=[], max_length=20, description="Tags, all of which the case must carry.")
    created_by: uuid.UUID | None = None
    updated_since: datetime | None = Field(
        default=None, description="Changed at or after (UTC if no offset)."
    )
    mine: bool = Field(default=False, description="Only cases you created.")
    q: SearchText | None = Field(
        default=None,
        description="Words, all required, in the title, summary, narrative or testimonies; `word*` is a prefix.",
    )


class CaseListQuery(CaseFilterQuery):
    """The case list: filters, order and page."""

    sort: Sort = Field(
        default="newest",
        description="`newest` (recorded), `date` (event, latest first), `date_asc`, `updated`, `relevance` (with q).",
    )
    cursor: str | None = Field(default=None, max_length=2048)
    limit: int = Field(default=50, ge=1, le=200)
    exact_total: bool = Field(
        default=False,
        description=(
            "Count every match. By default counting stops past 1,000 matches (total_exact is then false), which "
            "keeps a page fast at a million cases; /stats always counts exactly."
        ),
    )


class StatsQuery(CaseFilterQuery):
    """Grouped counts under the case-list filters."""

    group_by: GroupBy
    format: Literal["json", "csv"] | None = Field(
        default=None, description="Default: JSON, or CSV if Accept asks."
    )


class CaseHit(CaseRead):
    """A case in a list; with `q`, an HTML excerpt where the words matched (matches in <mark>, the rest escaped)."""

    snippet: str | None = None


class StatsGroup(Schema):
    key: str | None = Field(description="Code or value of the group; null for cases without one.")
    label: str
    cases: int = Field(description="Distinct cases in the group.")
    people: int = Field(description="Distinct people involved as victims in those cases.")


class StatsRead(Schema):
    group_by: GroupBy
    groups: list[StatsGroup]
    total_cases: int
    total_people: int
