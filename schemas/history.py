"""History of a record: one revision per change, oldest first."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from schemas.base import Schema


class FieldChange(Schema):
    before: Any = None
    after: Any = None


class RevisionRead(Schema):
    id: int
    entity_type: str
    entity_id: uuid.UUID
    version: int
    action: str = Field(description="create, update, retract, withdraw, assign, ...")
    actor_id: uuid.UUID
    at: datetime
    changes: dict[str, FieldChange]
    reason: str | None = None
    identity_changed: bool = Field(
        default=False,
        description="True when sealed values changed (a person's identity fields, a testimony's text or "
        "translations); they appear under `changes` only for callers with person:read_identity.",
    )
