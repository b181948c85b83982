"""The security audit log: append one event per sensitive action. Never carries names or secrets."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from api.models import AuditEvent


def record(
    *,
    session: Session,
    actor_id: uuid.UUID | None,
    action: str,
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit event to the session's transaction (committed with the change it records)."""
    session.add(
        AuditEvent(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=details or {},
        )
    )
