"""Record and read revisions. Identity values inside a revision are sealed like the identity itself."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, select

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.identity import door
from api.models import Revision
from api.sealing import Sealer
from schemas.history import FieldChange, RevisionRead


def record_revision(
    *,
    session: Session,
    actor: Actor,
    entity_type: str,
    entity_id: uuid.UUID,
    version: int,
    action: str,
    changes: dict[str, dict[str, Any]],
    case_id: uuid.UUID | None = None,
    identity_changes: dict[str, dict[str, Any]] | None = None,
    sealed_changes: dict[str, dict[str, Any]] | None = None,
    sealer: Sealer | None = None,
    reason: str | None = None,
) -> None:
    """Append a revision to the session's transaction.

    `identity_changes` (a person's identity fields) and `sealed_changes` (a testimony's words) are sealed in
    `sealed_identity`, bound to the revision; `changes` is kept in clear.
    """
    sealed = None
    secret_changes = identity_changes or sealed_changes
    if identity_changes and sealed_changes:
        raise ValueError("a revision seals identity changes or a record's words, not both")
    if secret_changes:
        if sealer is None:
            raise ValueError("identity changes must be sealed")
        sealed = sealer.seal(secret_changes, context=_revision_context(entity_id, version))
    session.add(
        Revision(
            entity_type=entity_type,
            entity_id=entity_id,
            case_id=case_id,
            version=version,
            action=action,
            actor_id=actor.user_id,
            changes=changes,
            sealed_identity=sealed,
            reason=reason,
        )
    )


def _revision_context(entity_id: uuid.UUID, version: int) -> str:
    return f"revision:{entity_id}:{version}"


def list_revisions(
    *, session: Session, actor: Actor, entity_type: str, entity_id: uuid.UUID, sealer: Sealer
) -> list[RevisionRead]:
    """Return a record's revisions, oldest first, with identity values only for permitted callers."""
    rows = session.exec(
        select(Revision)
        .where(Revision.entity_type == entity_type, Revision.entity_id == entity_id)
        .order_by(Revision.id)  # type: ignore[arg-type]
    ).all()
    return _to_reads(list(rows), session=session, actor=actor, sealer=sealer)


def list_case_revisions(
    *, session: Session, actor: Actor, case_id: uuid.UUID, sealer: Sealer
) -> list[RevisionRead]:
    """Return the revisions of a case and of the records inside it (involvements, testimonies), oldest first."""
    rows = session.exec(
        select(Revision).where(Revision.case_id == case_id).order_by(Revision.id)  # type: ignore[arg-type]
    ).all()
    return _to_reads(list(rows), session=session, actor=actor, sealer=sealer)


# What the sealed part of a revision holds, by entity: the door's kind, and the prefix of its field names.
_SEALED_AS = {
    "testimony": (door.SealedKind.TESTIMONY_REVISION, ""),
}
_IDENTITY = (door.SealedKind.IDENTITY_REVISION, "identity.")


def _to_reads(rows: list[Revision], *, session: Session, actor: Actor, sealer: Sealer) -> list[RevisionRead]:
    """Wire forms of revisions; their sealed values opened through the audited door, one event per kind.

    Only for callers who may read identities: a testimony's words as once typed are not a cleared version.
    """
    opened: dict[int, dict[str, Any]] = {}
    if actor.can(Permission.PERSON_READ_IDENTITY):
        for kind, _ in {*_SEALED_AS.values(), _IDENTITY}:
            sealed = [
                r
                for r in rows
                if r.sealed_identity is not None and _SEALED_AS.get(r.entity_type, _IDENTITY)[0] is kind
            ]
            values = [
                door.SealedValue(
                    r.entity_id, r.sealed_identity or b"", _revision_context(r.entity_id, r.version)
                )
                for r in sealed
            ]
            documents = door.open_identities(
                session=session, sealer=sealer, actor=actor, kind=kind, values=values, purpose="history"
            )
            opened |= {r.id or 0: document for r, document in zip(sealed, documents, strict=True)}
    return [_to_read(row, opened.get(row.id or 0)) for row in rows]


def _to_read(row: Revision, opened: dict[str, Any] | None) -> RevisionRead:
    changes = {k: FieldChange(**v) for k, v in row.changes.items()}
    if opened is not None:
        prefix = _SEALED_AS.get(row.entity_type, _IDENTITY)[1]
        changes |= {f"{prefix}{k}": FieldChange(**v) for k, v in opened.items()}
    return RevisionRead(
        id=row.id or 0,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        version=row.version,
        action=row.action,
        actor_id=row.actor_id,
        at=row.at,
        changes=changes,
        reason=row.reason,
        identity_changed=row.sealed_identity is not None,
    )
