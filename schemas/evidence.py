"""Evidence: uploaded originals, derived working copies and documents "sighted, not copied"."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from schemas.base import LongText, Name, Schema, ShortText


class EvidenceKind(StrEnum):
    """What the evidence is, as the documenter files it; inferred from the sniffed bytes when not given."""

    PHOTO = "photo"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    SCREENSHOT = "screenshot"
    MESSAGE = "message"
    OFFICIAL_RECORD = "official_record"
    COURT_RECORD = "court_record"
    WEB_PAGE = "web_page"
    OTHER = "other"


class EvidenceForm(StrEnum):
    """How the evidence is held: the evidentiary original, a working copy derived from it, or notes only."""

    FILE = "file"
    WORKING_COPY = "working_copy"
    SIGHTED = "sighted"


class Derivation(StrEnum):
    """Ways to derive a working copy; the original is never changed."""

    STRIP_METADATA = "strip_metadata"
    #: Rebuilt from the decoded content (image pixels, rendered PDF pages): what external audiences receive.
    RELEASE = "release"


class IntegrityStatus(StrEnum):
    """What the last rehash of the stored bytes found."""

    OK = "ok"
    MISMATCH = "mismatch"
    MISSING = "missing"


def _digest_hex(value: str) -> str:
    return value.removeprefix("sha256:").lower()


#: A SHA-256 as sent by a client: 64 hex digits, optionally prefixed `sha256:`; normalised to lowercase hex.
Sha256Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^(sha256:)?[0-9A-Fa-f]{64}$"),
    AfterValidator(_digest_hex),
]
Filename = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class EvidenceUploadMeta(Schema):
    """What is said about an uploaded file: multipart form fields, or query parameters of the raw PUT."""

    kind: EvidenceKind | None = Field(
        default=None, description="What the evidence is; inferred from the file's bytes when omitted."
    )
    description: ShortText | None = None
    captured_at: AwareDatetime | None = Field(
        default=None, description="When the photo, recording or copy was made, with its time zone."
    )
    captured_by: Name | None = Field(
        default=None, description="Who made it; a pseudonym if the person is at risk."
    )
    source: ShortText | None = Field(default=None, description="Where the file came from.")
    sha256: Sha256Text | None = Field(
        default=None,
        description="The SHA-256 you computed: if the received bytes differ, nothing is stored (422).",
    )


class RawUploadMeta(EvidenceUploadMeta):
    """Query parameters of the raw-body upload."""

    filename: Filename | None = Field(
        default=None, description="The file's original name (kept as a label, never used as a path)."
    )


class SightedEvidenceCreate(Schema):
    """A document that was seen but could not be copied (ILO workers' guide: who saw it, when, where, what it said)."""

    kind: EvidenceKind = EvidenceKind.OFFICIAL_RECORD
    description: ShortText = Field(
        min_length=1, description='What the document is, e.g. "handwritten police report".'
    )
    document_date: date | None = Field(default=None, description="The date the document bears.")
    sighted_by: Name = Field(description="Who saw it; a pseudonym if the person is at risk.")
    sighted_by_person_id: uuid.UUID | None = Field(
        default=None, description="The person who saw it, if recorded in Precedent."
    )
    sighted_on: date = Field(description="When it was seen.")
    sighted_place: Name | None = Field(default=None, description="Where it was seen.")
    content: LongText = Field(min_length=1, description="What it said, as precisely as the notes allow.")
    source: ShortText | None = None


class DerivativeCreate(Schema):
    """Derive a working copy of a file; the original stays as it was received."""

    method: Derivation


class SightedRead(Schema):
    document_date: date | None
    sighted_by: str
    sighted_by_person_id: uuid.UUID | None
    sighted_on: date
    sighted_place: str | None
    content: str
    statement_digest: str = Field(
        description="`sha256:<hex>` of the canonical JSON of this statement, recorded in the custody ledger."
    )


class IntegrityRead(Schema):
    status: IntegrityStatus
    checked_at: datetime | None = Field(
        description="Last rehash of the stored bytes; null if only on receipt."
    )


class EvidenceRead(Schema):
    id: uuid.UUID
    case_id: uuid.UUID
    form: EvidenceForm
    kind: EvidenceKind
    description: str | None
    captured_at: datetime | None
    captured_by: str | None
    source: str | None
    original_filename: str | None = Field(
        description="What the sender called the file (sealed at rest); for those who may read identities."
    )
    digest: str | None = Field(description="`sha256:<hex>` of the stored bytes, taken on receipt.")
    size: int | None
    media_type: str | None = Field(description="Sniffed from the bytes, never taken from the client.")
    embedded_metadata: dict[str, Any] = Field(
        default_factory=dict, description="Metadata found in the file: dimensions, capture time, camera, ..."
    )
    identifying_metadata: dict[str, Any] | None = Field(
        default=None,
        description="GPS positions, serial numbers and owner names found in the file; only for callers "
        "who may read identities, on the single-item read.",
    )
    derived_from_id: uuid.UUID | None
    derivation: Derivation | None
    sighted: SightedRead | None
    integrity: IntegrityRead | None
    created_by: uuid.UUID
    created_at: datetime


class EvidenceResearchRead(Schema):
    """An evidence item as a caller without `person:read_identity` (a researcher) sees it: an allow-list.

    Made, not filtered: only the fields below exist, so nothing added to `EvidenceRead` later can reach a
    researcher by default. Never here: the file name (it often names a person), embedded metadata (a PDF's
    title, author, XMP; a photo's camera), who made or filed the file, where it came from, and the description
    and sighted statement, which are documenters' free text that may name people: they are withheld from
    researchers until a cleared-text workflow exists.
    """

    id: uuid.UUID
    case_id: uuid.UUID
    form: EvidenceForm
    kind: EvidenceKind
    media_type: str | None = Field(description="Sniffed from the bytes, never taken from the client.")
    size: int | None
    digest: str | None = Field(description="`sha256:<hex>` of the stored bytes, taken on receipt.")
    captured_at: datetime | None
    created_at: datetime
    integrity: IntegrityRead | None
    derived_from_id: uuid.UUID | None
    derivation: Derivation | None


class VerificationRead(Schema):
    evidence_id: uuid.UUID
    digest: str
    status: IntegrityStatus
    found: str | None = Field(description="`sha256:<hex>` of the bytes found, if they could be read.")
    size: int | None
    checked_at: datetime
    leaf_index: int = Field(description="The custody ledger record of this verification.")
