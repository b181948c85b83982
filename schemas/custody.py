"""The custody ledger on the wire: events, the signing key, signed tree heads, RFC 6962 proofs."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from schemas.base import Schema


class CustodyAction(StrEnum):
    """What happened to an evidence item."""

    RECEIVED = "received"
    RECORDED = "recorded"
    VERIFIED = "verified"
    VIEWED = "viewed"
    DOWNLOADED = "downloaded"
    DERIVED = "derived"
    REVIEWED = "reviewed"  # a person approved or refused an audio or video release copy
    EXPORTED = "exported"
    TRANSFERRED = "transferred"
    RETRACTED = "retracted"


class CustodyEventRead(Schema):
    leaf_index: int = Field(description="Position of the record in the ledger: its RFC 6962 leaf index.")
    recorded_at: datetime
    actor_id: uuid.UUID | None
    action: CustodyAction
    evidence_id: uuid.UUID | None
    object_digest: str | None = Field(description="`sha256:<hex>` of the object the event concerns.")
    details: dict[str, Any]
    leaf: str = Field(
        description="Base64 of the exact bytes hashed as the leaf (canonical JSON of the record)."
    )
    leaf_hash: str = Field(description="Hex SHA-256(0x00 || leaf).")


class PublicKeyRead(Schema):
    algorithm: str = Field(description="Always `Ed25519` (RFC 8032).")
    key_id: str = Field(description="Hex SHA-256 of the raw 32-byte public key.")
    public_key: str = Field(description="The raw 32-byte public key, hex.")
    public_key_pem: str = Field(description="The same key as SubjectPublicKeyInfo PEM.")


class TreeHeadRead(Schema):
    tree_size: int
    root_hash: str = Field(description="Hex RFC 6962 Merkle tree hash of the first `tree_size` records.")
    timestamp: str = Field(description="RFC 3339 UTC with milliseconds, exactly as signed.")
    signature: str = Field(
        description="Hex Ed25519 signature over the signed bytes (see the route description)."
    )
    key_id: str
    timestamp_token: str | None = Field(
        default=None,
        description="Base64 DER RFC 3161 TimeStampResp whose message imprint is SHA-256 of the signed bytes.",
    )
    tsa_url: str | None = None


class InclusionProofRead(Schema):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str] = Field(
        description="RFC 6962 PATH(leaf_index, D[tree_size]), leaf level first, hex."
    )


class ConsistencyProofRead(Schema):
    first: int
    second: int
    consistency_path: list[str] = Field(description="RFC 6962 PROOF(first, D[second]), hex.")
