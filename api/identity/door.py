"""The one door to sealed data: every opening is recorded in the audit log, durably before an answer leaves.

`api.sealing.Sealer._open` is called here and nowhere else (tests/api/test_identity_door.py walks the tree's
syntax to keep it so). What is sealed: people's identities, the identity values inside revisions, the
identifying metadata of evidence files (GPS, serial numbers), evidence file names, the words of testimonies
(and of their revisions), web form drafts, and accounts' TOTP secrets (opened unaudited, for their own account
only: see `open_own_totp_secret`).

Recording. The door adds one `AuditEvent` per opening to the caller's session: one row per (session, subject),
a batch (a list, an export, a history) in one row whose details list the ids. The row carries ids and codes
only, never a value that was opened. It is written:

* with the caller's commit, in the same transaction as the change it accompanies (`before_commit`);
* when the caller's transaction ends without a commit (a read-only request never commits; a write that
  failed rolled back), in a short transaction of its own, at once (`after_transaction_end`). A request's
  sessions are closed before its endpoint returns (api.routing.SessionRoute, which pages share), so the row
  is durable before a byte of the answer leaves; if it cannot be written, the request fails (500) instead.

Why not a plain INSERT into a read-only request's own transaction: a request's read transaction on SQLite
cannot take the write lock once another connection has committed since it began (SQLITE_BUSY_SNAPSHOT, with
no waiting), and read requests never commit; the row would be lost or the read would fail at random.

Drafts are the exception, on purpose: a draft is the form its author typed and saved, opened only for that
author (checked here again), not yet a record of anyone. Recording every showing of one's own unsent form
would bury the reads of other people's identities in noise; once the form is sent, the person recorded from
it is behind `open_identity` like everyone else.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import Connection, event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from api.audit import service as audit_service
from api.auth.security import Actor
from api.models import AuditEvent
from api.models.base import utcnow
from api.problems import NotFound
from api.sealing import Sealer, SealError

#: Why a value was opened, recorded with the opening: shown to the caller, merged with an update, listed in a
#: record's history, used to name or redact people in an export.
Purpose = Literal["show", "update", "history", "export", "clear", "index"]


class SealedKind(StrEnum):
    """What a sealed value is; decides the audit action and the kind of subject recorded."""

    PERSON_IDENTITY = "person_identity"
    IDENTITY_REVISION = "identity_revision"
    EVIDENCE_IDENTIFIERS = "evidence_identifiers"
    EVIDENCE_FILENAME = "evidence_filename"
    TESTIMONY_TEXT = "testimony_text"
    TESTIMONY_REVISION = "testimony_revision"


# (audit action, target type): an identity revision is recorded as a read of the person it belongs to.
_RECORDED_AS: dict[SealedKind, tuple[str, str]] = {
    SealedKind.PERSON_IDENTITY: ("identity.read", "person"),
    SealedKind.IDENTITY_REVISION: ("identity.read", "person"),
    SealedKind.EVIDENCE_IDENTIFIERS: ("evidence.identifiers.read", "evidence"),
    SealedKind.EVIDENCE_FILENAME: ("evidence.filename.read", "evidence"),
    SealedKind.TESTIMONY_TEXT: ("testimony.read", "testimony"),
    SealedKind.TESTIMONY_REVISION: ("testimony.read", "testimony"),
}

_PENDING = "precedent.door.pending"  # rows not yet sent with a commit
_SENT = "precedent.door.sent"  # rows added to the transaction being committed
_SEEN = "precedent.door.seen"  # (action, target type, id) already recorded by this session


@dataclass(frozen=True)
class SealedValue:
    """One sealed value to open: its subject's id (the person, the evidence item), the bytes, their context."""

    subject_id: uuid.UUID
    sealed: bytes
    context: str


def open_identity(
    *,
    session: Session,
    sealer: Sealer,
    actor: Actor,
    kind: SealedKind,
    object_id: uuid.UUID,
    sealed: bytes,
    context: str,
    purpose: Purpose,
) -> dict[str, Any]:
    """Record that `actor` opens one sealed value of `object_id`, then open it (SealError if it does not)."""
    value = SealedValue(object_id, sealed, context)
    return open_identities(
        session=session, sealer=sealer, actor=actor, kind=kind, values=[value], purpose=purpose
    )[0]


def open_identities(
    *,
    session: Session,
    sealer: Sealer,
    actor: Actor,
    kind: SealedKind,
    values: Sequence[SealedValue],
    purpose: Purpose,
) -> list[dict[str, Any]]:
    """Record one audit row for these openings (ids only), then open each value, in the order given."""
    if not values:
        return []
    _record(
        session=session, actor=actor, kind=kind, subject_ids=[v.subject_id for v in values], purpose=purpose
    )
    return [sealer._open(v.sealed, context=v.context) for v in values]


def open_for_system(
    *, connection: Connection, sealer: Sealer, kind: SealedKind, values: Sequence[SealedValue], reason: str
) -> list[dict[str, Any]]:
    """Record that the system itself (no user: a rebuild of the search index, an upgrade) opens these values,
    then open them. The audit row goes into `connection`'s transaction, committed or rolled back with the work."""
    if not values:
        return []
    action, target_type = _RECORDED_AS[kind]
    connection.execute(
        sa.insert(AuditEvent).values(
            at=utcnow(),
            actor_id=None,
            action=action,
            target_type=target_type,
            target_id=None,
            details={"kind": kind.value, "purpose": "system", "reason": reason, "count": len(values)},
        )
    )
    return [sealer._open(v.sealed, context=v.context) for v in values]


def open_own_draft(
    *, sealer: Sealer, actor: Actor, author_id: uuid.UUID, draft_id: uuid.UUID, sealed: bytes
) -> dict[str, Any]:
    """Open a form draft for its author only; not audited (see the module docstring for why).

    The context is fixed to the draft's, so nothing but a draft opens here: AES-GCM binds each sealed value
    to its context, and a person's identity sealed under "person:<id>" fails to open under "draft:<id>".
    """
    if author_id != actor.user_id:
        raise NotFound("No such draft of yours.")
    return sealer._open(sealed, context=f"draft:{draft_id}")


def open_own_totp_secret(*, sealer: Sealer, user_id: uuid.UUID, sealed: bytes) -> str:
    """Open an account's TOTP secret to check a code it sent; not audited, and it never leaves the server.

    Why here and unaudited: the secret is opened at every sign-in with a code, by the server on the account's
    own behalf, and is never shown to anyone after enrolment; an audit row per sign-in would say nothing the
    `login.succeeded` row does not. The context is fixed to "totp:<user id>", so nothing else opens here
    (AES-GCM binds each sealed value to its context) and one account's secret copied onto another's row fails.
    """
    document = sealer._open(sealed, context=f"totp:{user_id}")
    secret = document.get("secret")
    if not isinstance(secret, str):
        raise SealError("sealed TOTP secret is not a document with a secret")
    return secret


def _record(
    *, session: Session, actor: Actor, kind: SealedKind, subject_ids: list[uuid.UUID], purpose: Purpose
) -> None:
    action, target_type = _RECORDED_AS[kind]
    seen: set[tuple[str, str, str]] = session.info.setdefault(_SEEN, set())
    fresh = sorted(
        {str(i) for i in subject_ids} - {key[2] for key in seen if key[:2] == (action, target_type)}
    )
    if not fresh:
        return  # one row per (request, subject): this session recorded them already
    details: dict[str, Any] = {"kind": kind.value, "purpose": purpose}
    if len(fresh) > 1:
        details["ids"] = fresh
    row = {
        "actor_id": actor.user_id,
        "action": action,
        "target_type": target_type,
        "target_id": fresh[0] if len(fresh) == 1 else None,
        "details": details,
    }
    # A transaction must be open, so that its end (commit, rollback or close) is seen by the hooks below.
    session.connection()
    session.info.setdefault(_PENDING, []).append(row)
    seen.update((action, target_type, i) for i in fresh)


@event.listens_for(OrmSession, "before_commit")
def _write_with_the_commit(session: OrmSession) -> None:
    rows = session.info.pop(_PENDING, [])
    for row in rows:
        audit_service.record(session=session, **row)
    session.info.setdefault(_SENT, []).extend(rows)


@event.listens_for(OrmSession, "after_commit")
def _written(session: OrmSession) -> None:
    session.info.pop(_SENT, None)


@event.listens_for(OrmSession, "after_transaction_end")
def _write_apart_if_not_committed(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return  # a savepoint: the outer transaction decides
    rows = session.info.pop(_SENT, []) + session.info.pop(_PENDING, [])
    if not rows:
        return
    # The caller's transaction ended without committing them: write them now, before the session is handed
    # back. An error here propagates, so a request fails rather than answer without its record.
    with Session(session.get_bind()) as apart:
        for row in rows:
            audit_service.record(session=apart, **row)
        apart.commit()
