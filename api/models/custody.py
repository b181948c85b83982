"""The custody ledger (RFC 6962 leaves, append-only) and the signed heads of its Merkle tree."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from api.models.base import JSONType, fk_field, str_field, ts_field

_BIG_INT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


class CustodyEvent(SQLModel, table=True):
    """One ledger record; `leaf` holds the exact bytes hashed as RFC 6962 leaf `leaf_index`.

    The other columns repeat fields of the leaf for queries. The database refuses UPDATE and DELETE.
    """

    __tablename__ = "custody_event"

    leaf_index: int = Field(sa_type=_BIG_INT, primary_key=True, sa_column_kwargs={"autoincrement": False})
    recorded_at: datetime = ts_field()
    actor_id: uuid.UUID | None = fk_field("user_account.id", nullable=True, index=False)
    action: str = str_field(32)
    evidence_id: uuid.UUID | None = fk_field("evidence_item.id", nullable=True)
    object_digest: str | None = str_field(71, nullable=True)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    leaf: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    leaf_hash: bytes = Field(sa_type=sa.LargeBinary(32), nullable=False)


class CustodyTreeHead(SQLModel, table=True):
    """A signed tree head: Ed25519 over the exact bytes of evidence_store.treehead, one per tree size."""

    __tablename__ = "custody_tree_head"

    tree_size: int = Field(sa_type=_BIG_INT, primary_key=True, sa_column_kwargs={"autoincrement": False})
    root_hash: bytes = Field(sa_type=sa.LargeBinary(32), nullable=False)
    # The RFC 3339 text that was signed, kept verbatim so the signed bytes can be rebuilt exactly.
    timestamp: str = str_field(24)
    signature: bytes = Field(sa_type=sa.LargeBinary(64), nullable=False)
    key_id: str = str_field(64)
    # RFC 3161 TimeStampResp (DER) over SHA-256 of the signed bytes, and the TSA that gave it.
    tsa_url: str | None = str_field(500, nullable=True)
    timestamp_response: bytes | None = Field(default=None, sa_type=sa.LargeBinary, nullable=True)
