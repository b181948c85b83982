"""An account's sessions and tokens: list them, end one, end all the others; an admin ends all of them.

Ending is revoking the token on the server: the next request with it is refused (every request looks its
token up). Errors: NotFound (404) for a session that is not the caller's. Services flush; the caller commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.audit import service as audit_service
from api.auth.security import Actor
from api.models import ApiToken, User
from api.models.base import utcnow
from api.problems import NotFound

#: Kinds a person holds and sees in their list: "challenge" tokens (half a sign-in) are not sessions.
LISTED_KINDS = ("web", "session", "api")


@dataclass(frozen=True)
class SessionInfo:
    """One live session or token of an account, as its holder sees it."""

    id: uuid.UUID
    kind: str
    label: str | None
    client: str | None
    address: str | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    current: bool


def _live(user_id: uuid.UUID) -> list[sa.ColumnElement[bool]]:
    return [
        col(ApiToken.user_id) == user_id,
        col(ApiToken.revoked_at).is_(None),
        col(ApiToken.expires_at) > utcnow(),
    ]


def list_sessions(*, session: Session, actor: Actor) -> list[SessionInfo]:
    """The caller's live sessions and tokens, the most recently used first."""
    rows = session.exec(
        select(ApiToken)
        .where(*_live(actor.user_id), col(ApiToken.kind).in_(LISTED_KINDS))
        .order_by(sa.func.coalesce(ApiToken.last_used_at, ApiToken.created_at).desc())
    ).all()
    return [
        SessionInfo(
            id=row.id,
            kind=row.kind,
            label=row.label,
            client=row.client,
            address=row.address,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            current=row.id == actor.token_id,
        )
        for row in rows
    ]


def end_session(*, session: Session, actor: Actor, session_id: uuid.UUID) -> None:
    """End one of the caller's sessions (their current one included)."""
    ended = session.execute(
        sa.update(ApiToken)
        .where(col(ApiToken.id) == session_id, *_live(actor.user_id))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if ended.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound("No such session of yours.")
    audit_service.record(
        session=session,
        actor_id=actor.user_id,
        action="session.ended",
        target_type="user",
        target_id=str(actor.user_id),
    )


def end_other_sessions(*, session: Session, actor: Actor) -> int:
    """End every session and token of the caller but the one of this request; return how many."""
    count = revoke_all(session=session, user_id=actor.user_id, keep=actor.token_id)
    audit_service.record(
        session=session,
        actor_id=actor.user_id,
        action="session.ended_others",
        target_type="user",
        target_id=str(actor.user_id),
        details={"count": count},
    )
    return count


def end_all_sessions_of(*, session: Session, actor: Actor, user_id: uuid.UUID) -> int:
    """(Admin) end every session and token of an account; it takes effect on their next request."""
    if session.get(User, user_id) is None:
        raise NotFound(f"No user {user_id}.")
    count = revoke_all(session=session, user_id=user_id)
    audit_service.record(
        session=session,
        actor_id=actor.user_id,
        action="session.ended_all",
        target_type="user",
        target_id=str(user_id),
        details={"count": count},
    )
    return count


def revoke_all(*, session: Session, user_id: uuid.UUID, keep: uuid.UUID | None = None) -> int:
    """Revoke every live token of an account (of every kind), but `keep`; return how many."""
    where = [col(ApiToken.user_id) == user_id, col(ApiToken.revoked_at).is_(None)]
    if keep is not None:
        where.append(col(ApiToken.id) != keep)
    result = session.execute(
        sa.update(ApiToken)
        .where(*where)
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
