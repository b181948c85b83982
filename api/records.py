"""Shared mechanics of versioned records: ETags, If-Match, conditional updates, field diffs, retraction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from api.auth.security import Actor
from api.models.base import utcnow
from api.problems import Conflict, PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    """Return the strong ETag of a record version."""
    return f'"v{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """Require an If-Match matching the current version (RFC 9110 §13.1.1); `*` accepts any version."""
    if if_match is None:
        raise PreconditionRequired(
            "Send the ETag you last read in an If-Match header, so that concurrent edits are not lost."
        )
    candidates = [c.strip() for c in if_match.split(",")]
    if "*" in candidates:
        return
    if etag(version) not in [c.removeprefix("W/") for c in candidates]:
        raise PreconditionFailed(
            f"The record is now at version {version} ({etag(version)}); reload it and apply your change again.",
            current_etag=etag(version),
        )


def json_value(value: Any) -> Any:
    """Return a JSON-safe form of a column value for history records."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    return value


def diff(row: SQLModel, updates: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return {field: {before, after}} for the fields whose value actually changes."""
    changes = {}
    for name, new in updates.items():
        old = getattr(row, name)
        if json_value(old) != json_value(new):
            changes[name] = {"before": json_value(old), "after": json_value(new)}
    return changes


def snapshot(row: SQLModel, fields: list[str]) -> dict[str, dict[str, Any]]:
    """Return a creation diff: every listed field from nothing to its value."""
    return {name: {"before": None, "after": json_value(getattr(row, name))} for name in fields}


def conditional_update(
    *,
    session: Session,
    model: type[SQLModel],
    row_id: uuid.UUID,
    expected_version: int,
    values: dict[str, Any],
    actor: Actor | None = None,
) -> int:
    """UPDATE the row only if it is still at `expected_version`; return the new version or raise 412.

    The version check is in the UPDATE itself, so it holds across threads and server processes.
    """
    table = model.__table__  # type: ignore[attr-defined]
    stamp: dict[str, Any] = {"version": expected_version + 1}
    if actor is not None and "updated_by" in table.c:
        stamp |= {"updated_by": actor.user_id, "updated_at": utcnow()}
    result = session.execute(
        sa.update(table)
        .where(table.c.id == row_id, table.c.version == expected_version)
        .values(**values, **stamp)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise PreconditionFailed(
            "Someone else changed this record at the same moment; reload it and try again."
        )
    return expected_version + 1


def ensure_not_retracted(row: Any, what: str) -> None:
    """Refuse to change a retracted record."""
    if getattr(row, "retracted_at", None) is not None:
        raise Conflict(f"This {what} was retracted and can no longer be changed.")


def apply_update(
    *,
    session: Session,
    actor: Actor,
    model: type[SQLModel],
    row: Any,
    values: dict[str, Any],
    entity_type: str,
    case_id: uuid.UUID | None = None,
    extra_changes: dict[str, dict[str, Any]] | None = None,
    derived: dict[str, Any] | None = None,
    before_commit: Callable[[], None] | None = None,
    **revision: Any,
) -> Any:
    """Write the changed fields under optimistic locking, record one revision, commit; return the fresh row.

    `derived` values (search keys and the like) are written along with a change but not recorded in history;
    `before_commit` runs in the same transaction, after the write (to keep derived data of other rows).
    """
    from api.history import service as history_service

    changes = diff(row, values) | (extra_changes or {})
    if not changes:
        return row
    version = conditional_update(
        session=session,
        model=model,
        row_id=row.id,
        expected_version=row.version,
        values={k: values[k] for k in changes if k in values} | (derived or {}),
        actor=actor,
    )
    history_service.record_revision(
        session=session,
        actor=actor,
        entity_type=entity_type,
        entity_id=row.id,
        case_id=case_id,
        version=version,
        action="update",
        changes=changes,
        **revision,
    )
    if before_commit is not None:
        before_commit()
    session.flush()
    return reload(session, model, row.id)


def retract(
    *,
    session: Session,
    actor: Actor,
    model: type[SQLModel],
    row: Any,
    reason: str,
    entity_type: str,
    case_id: uuid.UUID | None = None,
    before_commit: Callable[[], None] | None = None,
) -> Any:
    """Mark a record retracted with a reason (never deleted), record the revision, commit; return it fresh.

    `before_commit` runs in the same transaction, after the write (to keep derived data of other rows).
    """
    from api.history import service as history_service

    ensure_not_retracted(row, entity_type)
    now = utcnow()
    version = conditional_update(
        session=session,
        model=model,
        row_id=row.id,
        expected_version=row.version,
        values={"retracted_at": now, "retracted_by": actor.user_id, "retraction_reason": reason},
        actor=actor,
    )
    history_service.record_revision(
        session=session,
        actor=actor,
        entity_type=entity_type,
        entity_id=row.id,
        case_id=case_id,
        version=version,
        action="retract",
        changes={"retracted_at": {"before": None, "after": now.isoformat()}},
        reason=reason,
    )
    if before_commit is not None:
        before_commit()
    session.flush()
    return reload(session, model, row.id)


def reload(session: Session, model: type[SQLModel], row_id: uuid.UUID) -> Any:
    """Re-read a row after a Core UPDATE so the session's copy is current."""
    fresh = session.get(model, row_id, populate_existing=True)
    if fresh is None:  # only if it vanished in between, which append-only history makes impossible
        raise Conflict("The record disappeared while it was being changed.")
    return fresh
