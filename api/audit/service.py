"""The security audit log: append one event per sensitive action; admins read it. Never carries names or secrets.

The log is append-only (the database refuses UPDATE and DELETE). Reading it: newest first, in keyset pages by
id (page 1,000 costs what page 1 costs), each cursor signed and bound to the filters it was made with; the
total is counted up to COUNT_CAP. CSV is streamed in batches, each read in a short transaction of its own, so
a long download holds no snapshot; it stops at the newest event there was when it began.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from api.db import Database
from api.exports.cells import spreadsheet_safe
from api.models import AuditEvent, User
from api.pagination import Cursor, decode_cursor, encode_cursor
from schemas.audit import AuditEventRead, AuditQuery
from schemas.base import Page
from schemas.enums import Role

#: Above this many matches the total says "more than" (total_exact false), as the case search does.
COUNT_CAP = 1000
CSV_BATCH = 2000
CSV_COLUMNS = (
    "id",
    "at",
    "actor_id",
    "actor_username",
    "actor_role",
    "action",
    "target_type",
    "target_id",
    "details",
)


def record(
    *,
    session: OrmSession,
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


def record_apart(
    *,
    db: Database,
    actor_id: uuid.UUID | None,
    action: str,
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record an event in a short write transaction of its own (kept when the request's own is rolled back)."""
    with db.write_session() as session:
        record(
            session=session,
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=details,
        )


# ---- reading ------------------------------------------------------------------------------------------------


def _conditions(query: AuditQuery) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if query.actor is not None:
        conditions.append(col(AuditEvent.actor_id) == query.actor)
    if query.action:
        conditions.append(col(AuditEvent.action).startswith(query.action, autoescape=True))
    if query.target_type:
        conditions.append(col(AuditEvent.target_type) == query.target_type)
    if query.target_id:
        # An event about several objects lists their ids in its details (one identity.read for a whole list).
        listed = sa.cast(col(AuditEvent.details), sa.Text).contains(f'"{query.target_id}"', autoescape=True)
        conditions.append(
            sa.or_(
                col(AuditEvent.target_id) == query.target_id,
                sa.and_(col(AuditEvent.target_id).is_(None), listed),
            )
        )
    since, until = query.since(), query.until()
    if since is not None:
        conditions.append(col(AuditEvent.at) >= since)
    if until is not None:
        conditions.append(col(AuditEvent.at) < until)
    return conditions


def _cursor_kind(query: AuditQuery) -> str:
    digest = hashlib.sha256(json.dumps(query.filters(), sort_keys=True).encode()).hexdigest()[:16]
    return f"audit:{digest}"


def _rows(session: Session, conditions: list[sa.ColumnElement[bool]], limit: int) -> list[Any]:
    statement = (
        select(AuditEvent, User.username, User.role)
        .join(User, col(User.id) == col(AuditEvent.actor_id), isouter=True)
        .where(*conditions)
        .order_by(col(AuditEvent.id).desc())
        .limit(limit)
    )
    return list(session.exec(statement).all())


def _to_read(event: AuditEvent, username: str | None, role: str | None) -> AuditEventRead:
    return AuditEventRead(
        id=event.id or 0,
        at=event.at,
        actor_id=event.actor_id,
        actor_username=username,
        actor_role=Role(role) if role else None,
        action=event.action,
        target_type=event.target_type,
        target_id=event.target_id,
        details=event.details,
    )


def list_events(*, session: Session, query: AuditQuery, secret: bytes) -> Page[AuditEventRead]:
    """Return one page of the events matching the filters, newest first."""
    conditions = _conditions(query)
    matching = select(AuditEvent.id).where(*conditions).limit(COUNT_CAP + 1).subquery()
    total = session.exec(select(sa.func.count()).select_from(matching)).one()
    page_conditions = list(conditions)
    if query.cursor:
        (before,) = decode_cursor(secret, query.cursor, kind=_cursor_kind(query)).values
        page_conditions.append(col(AuditEvent.id) < int(before))
    rows = _rows(session, page_conditions, query.limit + 1)
    next_cursor = None
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        next_cursor = encode_cursor(secret, Cursor(kind=_cursor_kind(query), values=[rows[-1][0].id]))
    return Page[AuditEventRead](
        items=[_to_read(*row) for row in rows],
        total=min(total, COUNT_CAP),
        total_exact=total <= COUNT_CAP,
        next_cursor=next_cursor,
    )


def _csv_line(event: AuditEventRead) -> list[str]:
    details = json.dumps(event.details, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    cells = [
        str(event.id),
        event.at.isoformat(),
        str(event.actor_id or ""),
        event.actor_username or "",
        event.actor_role.value if event.actor_role else "",
        event.action,
        event.target_type or "",
        event.target_id or "",
        details,
    ]
    return [spreadsheet_safe(cell) for cell in cells]


def stream_events_csv(*, db: Database, query: AuditQuery, secret: bytes) -> Iterator[bytes]:
    """Yield every event matching the filters as CSV (RFC 4180, UTF-8), newest first, a batch at a time."""
    conditions = _conditions(query)
    if query.cursor:
        (before,) = decode_cursor(secret, query.cursor, kind=_cursor_kind(query)).values
        conditions.append(col(AuditEvent.id) < int(before))
    return _csv_batches(db, conditions)


def _csv_batches(db: Database, conditions: list[sa.ColumnElement[bool]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    before: int | None = None
    while True:
        with db.session(write=False) as session:
            batch_conditions = conditions if before is None else [*conditions, col(AuditEvent.id) < before]
            rows = _rows(session, batch_conditions, CSV_BATCH)
        for row in rows:
            writer.writerow(_csv_line(_to_read(*row)))
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < CSV_BATCH:
            return
        before = rows[-1][0].id
