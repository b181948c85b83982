"""Evidence: stored blobs (content-addressed, one row per distinct SHA-256) and the items that cite them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from api.models.base import JSONType, fk_field, str_field, text_field, ts_field, uuid_pk


class EvidenceBlob(SQLModel, table=True):
    """Bytes kept in the blob store under their SHA-256; identical uploads share one row and one blob."""

    __tablename__ = "evidence_blob"

    sha256: str = Field(sa_type=sa.String(64), primary_key=True)
    size: int = Field(sa_type=sa.BigInteger, nullable=False)
    media_type: str = str_field(127)
    received_at: datetime = ts_field()
    # Embedded metadata anyone who may read the item may see (dimensions, capture time, camera model).
    embedded: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    # GPS positions, serial numbers, owner names: identity-level data, sealed like PersonIdentity.
    sealed_identifiers: bytes | None = Field(default=None, sa_type=sa.LargeBinary, nullable=True)
    identifiers_key_id: str | None = str_field(64, nullable=True)
    # Outcome of the last rehash: ok, mismatch or missing. A blob not `ok` is never served.
    integrity: str = str_field(16, default="ok")
    checked_at: datetime | None = ts_field(nullable=True)


class EvidenceItem(SQLModel, table=True):
    """A piece of evidence in a case: an uploaded original, a derived working copy, or a sighted document."""

    __tablename__ = "evidence_item"
    __table_args__ = (sa.Index("ix_evidence_item_case_created", "case_id", "created_at", "id"),)

    id: uuid.UUID = uuid_pk()
    case_id: uuid.UUID = fk_field("case_record.id", index=False)
    form: str = str_field(16)
    kind: str = str_field(24)
    description: str | None = text_field()
    captured_at: datetime | None = ts_field(nullable=True)
    captured_by: str | None = str_field(200, nullable=True)
    source: str | None = text_field()
    # What the sender called the file ("..._passport.jpg" names a person): sealed like PersonIdentity, bound
    # to this item (context "evidence-filename:<id>"), opened only by api.evidence.service.open_filenames;
    # shown, never used as a path or key.
    sealed_filename: bytes | None = Field(default=None, sa_type=sa.LargeBinary, nullable=True)
    blob_sha256: str | None = Field(
        default=None, sa_type=sa.String(64), foreign_key="evidence_blob.sha256", nullable=True, index=True
    )
    derived_from_id: uuid.UUID | None = fk_field("evidence_item.id", nullable=True)
    derivation: str | None = str_field(32, nullable=True)
    # "Sighted, not copied" (ILO workers' guide): who saw the document, when, where, and what it said.
    document_date: date | None = Field(default=None)
    sighted_by: str | None = str_field(200, nullable=True)
    sighted_by_person_id: uuid.UUID | None = fk_field("person.id", nullable=True)
    sighted_on: date | None = Field(default=None)
    sighted_place: str | None = str_field(200, nullable=True)
    sighted_content: str | None = text_field()
    # SHA-256 of the canonical JSON of the sighted statement, recorded in the custody ledger.
    statement_sha256: str | None = str_field(64, nullable=True)
    created_by: uuid.UUID = fk_field("user_account.id", index=False)
    created_at: datetime = ts_field()
