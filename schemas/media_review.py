"""A person's review of an audio or video release copy: approved for named outside audiences, or refused."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field, model_validator

from schemas.base import Schema, ShortText
from schemas.clearing import OutsideAudience
from schemas.evidence import Sha256Text


class ReviewDecision(StrEnum):
    """What the reviewer decided about the copy they listened to or watched."""

    APPROVED = "approved"
    REFUSED = "refused"


class MediaReleaseState(StrEnum):
    """Where a recording stands for one outside audience; only `approved` leaves (as the reviewed copy)."""

    NOT_REVIEWED = "not_reviewed"
    APPROVED = "approved"
    OTHER_AUDIENCES = "other_audiences"
    REFUSED = "refused"
    COPY_CHANGED = "copy_changed"


class MediaReviewCreate(Schema):
    """A decision on one release copy, bound to the digest of the bytes the reviewer downloaded."""

    derivative_id: uuid.UUID = Field(description="The release copy (a working copy of this recording).")
    derivative_digest: Sha256Text = Field(
        description="SHA-256 of the copy you listened to or watched; a copy with other bytes is not approved."
    )
    decision: ReviewDecision
    audiences: list[OutsideAudience] = Field(
        default=[],
        max_length=4,
        description="Who may receive the copy (approval only): ilo, ituc, partner, public.",
    )
    note: ShortText | None = Field(default=None, description="Why, for the record (kept inside).")

    @model_validator(mode="after")
    def _audiences_fit(self) -> MediaReviewCreate:
        if self.decision is ReviewDecision.APPROVED and not self.audiences:
            raise ValueError("name at least one audience the copy is approved for")
        if self.decision is ReviewDecision.REFUSED and self.audiences:
            raise ValueError("a refusal names no audiences")
        self.audiences = sorted(set(self.audiences))
        return self


class MediaReviewRead(Schema):
    id: uuid.UUID
    evidence_id: uuid.UUID = Field(description="The original recording.")
    derivative_id: uuid.UUID
    derivative_digest: str = Field(
        description="`sha256:<hex>` of the reviewed copy: what the decision binds."
    )
    decision: ReviewDecision
    audiences: list[str]
    note: str | None = Field(description="Only for roles that may read identities: a note may name people.")
    decided_by: uuid.UUID
    decided_at: datetime
    leaf_index: int = Field(description="The custody ledger record of the decision.")
