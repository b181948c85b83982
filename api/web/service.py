"""What only the web interface needs: drafts of forms, the saved language, usernames, one's recent changes.

Everything a page shows about cases, people and testimonies comes from their own services; this module adds
no visibility rule of its own. Drafts are private to their author and sealed with the identity key (bound to
the draft id), because a half-filled person form holds a name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api import i18n
from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.context import AppContext
from api.identity import door
from api.models import Case, Draft, Revision, User
from api.models.base import utcnow
from api.problems import NotFound, ValidationProblem
from api.sealing import Sealer
from api.web.labels import LABELS

DRAFT_FORMS = frozenset({"case", "case_edit", "involvement", "testimony", "person"})
MAX_DRAFTS_PER_USER = 200
MAX_DRAFT_FIELDS = 200


@dataclass(frozen=True)
class DraftRead:
    id: uuid.UUID
    form: str
    case_id: uuid.UUID | None
    data: dict[str, Any]
    updated_at: datetime

    @property
    def label(self) -> str:
        """A short name for the draft list: its title or pseudonym, if it has one."""
        for name in ("title", "pseudonym", "new_pseudonym", "audience"):
            value = self.data.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip()[:120]
        return ""


@dataclass(frozen=True)
class Activity:
    at: datetime
    action: str
    entity_type: str
    case_id: uuid.UUID | None
    case_reference: str | None


def _draft_context(draft_id: uuid.UUID) -> str:
    # api.identity.door.open_own_draft opens drafts under the same context: keep them equal.
    return f"draft:{draft_id}"


def _own_draft(session: Session, actor: Actor, draft_id: uuid.UUID) -> Draft:
    draft = session.exec(select(Draft).where(Draft.id == draft_id, Draft.user_id == actor.user_id)).first()
    if draft is None or actor.duress:
        raise NotFound("No such draft of yours.")
    return draft


def _clean_data(data: dict[str, Any]) -> dict[str, Any]:
    """Keep only text fields and lists of text; a draft is a form's values as typed."""
    if len(data) > MAX_DRAFT_FIELDS:
        raise ValidationProblem.single("body", "too many fields for a draft")
    clean: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str):
            clean[key] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            clean[key] = list(value)
    return clean


def save_draft(
    *,
    session: Session,
    actor: Actor,
    sealer: Sealer,
    form: str,
    data: dict[str, Any],
    case_id: uuid.UUID | None = None,
    draft_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Create or overwrite one of the actor's drafts; return its id."""
    if form not in DRAFT_FORMS:
        raise ValidationProblem.single("form", "unknown form")
    if case_id is not None:
        cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    now = utcnow()
    if draft_id is not None:
        draft = _own_draft(session, actor, draft_id)
        draft.form, draft.case_id, draft.updated_at = form, case_id, now
    else:
        count = session.exec(
            select(sa.func.count()).select_from(Draft).where(Draft.user_id == actor.user_id)
        ).one()
        if count >= MAX_DRAFTS_PER_USER:
            raise ValidationProblem.single("body", "too many drafts: finish or discard some first")
        draft = Draft(
            user_id=actor.user_id,
            form=form,
            case_id=case_id,
            key_id=sealer.key_id,
            sealed=b"",
            updated_at=now,
        )
    draft.sealed = sealer.seal(_clean_data(data), context=_draft_context(draft.id))
    draft.key_id = sealer.key_id
    session.add(draft)
    session.flush()
    return draft.id


def get_draft(*, session: Session, actor: Actor, sealer: Sealer, draft_id: uuid.UUID) -> DraftRead:
    """Open one of the actor's drafts."""
    draft = _own_draft(session, actor, draft_id)
    data = door.open_own_draft(
        sealer=sealer, actor=actor, author_id=draft.user_id, draft_id=draft.id, sealed=draft.sealed
    )
    return DraftRead(
        id=draft.id, form=draft.form, case_id=draft.case_id, data=data, updated_at=draft.updated_at
    )


def list_drafts(*, session: Session, actor: Actor, sealer: Sealer, limit: int = 50) -> list[DraftRead]:
    """Return the actor's drafts, most recently saved first (none while the account is in duress)."""
    if actor.duress:
        return []
    rows = session.exec(
        select(Draft)
        .where(Draft.user_id == actor.user_id)
        .order_by(col(Draft.updated_at).desc(), col(Draft.id))
        .limit(limit)
    ).all()
    return [
        DraftRead(
            id=row.id,
            form=row.form,
            case_id=row.case_id,
            data=door.open_own_draft(
                sealer=sealer, actor=actor, author_id=row.user_id, draft_id=row.id, sealed=row.sealed
            ),
            updated_at=row.updated_at,
        )
        for row in rows
    ]


def discard_draft(*, session: Session, actor: Actor, draft_id: uuid.UUID) -> None:
    """Delete one of the actor's drafts (after its form was sent, or on request)."""
    draft = _own_draft(session, actor, draft_id)
    session.delete(draft)
    session.flush()


def saved_language(*, ctx: AppContext, user_id: uuid.UUID) -> str | None:
    """Return the language the user chose, if any."""
    with ctx.db.session(write=False) as session:
        return session.exec(select(User.language).where(User.id == user_id)).first()


def accounts_in_duress(*, ctx: AppContext) -> list[str]:
    """Usernames of accounts in duress, for the banner every admin page carries until it is lifted."""
    with ctx.db.session(write=False) as session:
        return list(
            session.exec(
                select(User.username).where(col(User.duress_at).is_not(None)).order_by(col(User.username))
            ).all()
        )


def save_language(*, session: Session, actor: Actor, language: str) -> None:
    """Remember the user's language for every page and device."""
    session.execute(sa.update(User).where(col(User.id) == actor.user_id).values(language=language))
    session.flush()


def usernames(*, session: Session, actor: Actor, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Map user ids to what `actor` may be shown of who recorded or changed a record: the account name, or,
    for a role that may not read identities (researchers), only the role ("a documenter"). An account name
    is often a person's name, and who documented which case is itself what a hostile reader looks for."""
    if not user_ids:
        return {}
    rows = session.exec(select(User.id, User.username, User.role).where(col(User.id).in_(user_ids))).all()
    if actor.can(Permission.PERSON_READ_IDENTITY):
        return {user_id: name for user_id, name, _ in rows}
    return {user_id: i18n.gettext(LABELS["role"].get(role, role)) for user_id, _, role in rows}


def recent_activity(*, session: Session, actor: Actor, limit: int = 10) -> list[Activity]:
    """Return the actor's own latest changes, with the reference of the case each belongs to if still visible."""
    if actor.duress:
        return []  # an empty workspace: not even what one did lately
    rows = session.exec(
        select(Revision)
        .where(Revision.actor_id == actor.user_id)
        .order_by(col(Revision.id).desc())
        .limit(limit)
    ).all()
    case_ids = {r.case_id for r in rows if r.case_id is not None}
    references: dict[uuid.UUID, str] = {}
    if case_ids:
        references = dict(
            session.exec(
                select(Case.id, Case.reference).where(
                    col(Case.id).in_(case_ids), cases_service.visible_clause(actor)
                )
            ).all()
        )
    return [
        Activity(
            at=r.at,
            action=r.action,
            entity_type=r.entity_type,
            case_id=r.case_id if r.case_id in references else None,
            case_reference=references.get(r.case_id) if r.case_id else None,
        )
        for r in rows
    ]
