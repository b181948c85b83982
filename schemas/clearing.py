"""Cleared free text on the wire: what to propose, a coordinator's correction, a clearing as read, its state."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from schemas.base import LongText, Schema
from schemas.export import ExportAudience


class SourceKind(StrEnum):
    """Which free text a clearing is made from."""

    CASE_TITLE = "case.title"
    CASE_SUMMARY = "case.summary"
    CASE_NARRATIVE = "case.narrative"
    TESTIMONY_TEXT = "testimony.text"
    TESTIMONY_TRANSLATION = "testimony.translation"


class ClearingStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"


class ClearingState(StrEnum):
    """Where a source text stands for an audience: only `approved` may leave."""

    MISSING = "missing"
    PROPOSED = "proposed"
    STALE = "stale"
    APPROVED = "approved"


def _outside(audience: ExportAudience) -> ExportAudience:
    if audience is ExportAudience.INTERNAL:
        raise ValueError("internal exports carry the texts as they are: choose an audience outside")
    return audience


OutsideAudience = Annotated[
    ExportAudience,
    AfterValidator(_outside),
    Field(description="Every audience but `internal`: ilo, ituc, partner, public."),
]
ClearedBody = Annotated[LongText, Field(min_length=1)]


class ClearingCreate(Schema):
    audience: OutsideAudience


class ClearingUpdate(Schema):
    text: ClearedBody = Field(description="The corrected cleared text; the clearing goes back to `proposed`.")


class ClearingListQuery(Schema):
    audience: OutsideAudience | None = None


class ClearingChange(Schema):
    """One replaced span: offsets (Unicode code points) into the source, never the words found there."""

    start: int
    end: int
    person_id: uuid.UUID
    replacement: str = Field(description="The pseudonym put in.")
    confidence: Literal["high", "low"]
    reasons: list[str] = Field(
        default=[],
        description="Why a change may not be the person: given_name_alone, patronymic_alone, diminutive, "
        "common_word, ambiguous, other.",
    )


class ClearingRead(Schema):
    id: uuid.UUID
    case_id: uuid.UUID
    source_kind: SourceKind
    source_id: uuid.UUID
    source_language: str | None = Field(default=None, description="The language of a translation.")
    source_sha256: str = Field(description="sha256:<hex> of the source text the clearing was made from.")
    stale: bool = Field(description="The source changed since (or is gone): this clearing does not count.")
    audience: ExportAudience
    text: str
    status: ClearingStatus
    proposed_by: uuid.UUID
    proposed_at: datetime
    approved_by: uuid.UUID | None = None
    approved_at: datetime | None = None
    updated_by: uuid.UUID
    updated_at: datetime
    version: int
    changes: list[ClearingChange] | None = Field(
        default=None, description="The replaced spans, for roles that may read identities; else null."
    )


class SourceClearing(Schema):
    """One free text of a case and where its clearing for an audience stands (no text: for the export page)."""

    source_kind: SourceKind
    source_id: uuid.UUID
    source_language: str | None = None
    state: ClearingState
    clearing_id: uuid.UUID | None = None
