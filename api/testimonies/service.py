"""Testimonies: recorded against a case, given by a visible person, versioned and never deleted."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, select

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.cases.dates import latest_possible_today
from api.clearing import service as clearing_service
from api.history import service as history_service
from api.identity import door
from api.models import Person, Testimony, User
from api.people import service as people_service
from api.problems import NotFound, PermissionDenied, ValidationProblem
from api.records import (
    check_if_match,
    conditional_update,
    diff,
    ensure_not_retracted,
    json_value,
    reload,
    retract,
    snapshot,
)
from api.sealing import Sealer
from api.search import index as search_index
from api.search.text import WordSeal
from api.testimonies import texts
from api.testimonies.texts import TestimonyWords
from schemas.testimony import TestimonyCreate, TestimonyRead, TestimonyUpdate

# Recorded in clear in a testimony's revisions; its words are recorded sealed (TEXT_FIELDS).
_FIELDS = ["source_person_id", "taken_by", "taken_at", "place", "language", "reliability"]
TEXT_FIELDS = ("text", "translations")


def _to_read(session: Session, row: Testimony, words: TestimonyWords | None) -> TestimonyRead:
    """The wire form; `words` None when the caller gets no words (withheld until cleared, see _shown_words)."""
    person = session.get(Person, row.source_person_id)
    fields = {name: getattr(row, name) for name in TestimonyRead.model_fields if hasattr(row, name)}
    return TestimonyRead.model_validate(
        fields
        | {
            "source_pseudonym": person.pseudonym if person else None,
            "text": words.text if words else None,
            "translations": words.translations if words else [],
            "text_withheld": words is None,
        }
    )


def _shown_words(
    *, session: Session, sealer: Sealer, actor: Actor, rows: Sequence[Testimony]
) -> dict[uuid.UUID, TestimonyWords | None]:
    """What each testimony shows this caller: its words for those who may read identities; otherwise only
    a version a coordinator cleared of names (any audience), and nothing where there is none."""
    identities = actor.can(Permission.PERSON_READ_IDENTITY)
    purpose: door.Purpose = "show" if identities else "clear"
    opened = texts.open_words(session=session, sealer=sealer, actor=actor, rows=rows, purpose=purpose)
    if identities:
        return dict(opened)
    return {
        row.id: clearing_service.cleared_words(session=session, testimony_id=row.id, words=opened[row.id])
        for row in rows
    }


def _check_taken_at(value: object) -> None:
    if value is not None and value > latest_possible_today():  # type: ignore[operator]
        raise ValidationProblem.single("body.taken_at", "must not be in the future", "date_range")


def _editable_case(session: Session, actor: Actor, case_id: uuid.UUID) -> None:
    if not actor.can(Permission.TESTIMONY_WRITE):
        raise PermissionDenied("Your role may not record testimonies.")
    cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)


def create_testimony(
    *,
    session: Session,
    actor: Actor,
    sealer: Sealer,
    words: WordSeal,
    case_id: uuid.UUID,
    testimony_in: TestimonyCreate,
) -> TestimonyRead:
    """Record a testimony given by a person the caller can see; its words sealed, indexed by their hashes."""
    _editable_case(session, actor, case_id)
    _check_taken_at(testimony_in.taken_at)
    try:
        source = people_service.get_person_or_raise(
            session=session, actor=actor, person_id=testimony_in.source_person_id
        )
    except NotFound:
        raise ValidationProblem.single(
            "body.source_person_id", "no person with this id that you can see", "not_found"
        ) from None
    ensure_not_retracted(source, "person")
    taken_by = testimony_in.taken_by or actor.user_id
    if taken_by != actor.user_id and not actor.can(Permission.CASE_UPDATE_ALL):
        # Who took a testimony is part of its provenance: only a coordinator records it for someone else.
        raise PermissionDenied("Only a coordinator may record a testimony taken by someone else.")
    if session.get(User, taken_by) is None:
        raise ValidationProblem.single("body.taken_by", "no user with this id", "not_found")
    said = TestimonyWords(
        text=testimony_in.text, translations=json_value([t.model_dump() for t in testimony_in.translations])
    )
    testimony_id = uuid.uuid4()
    row = Testimony(
        **testimony_in.model_dump(exclude={"text", "translations", "taken_by"}),
        id=testimony_id,
        sealed_text=texts.seal(sealer=sealer, testimony_id=testimony_id, words=said),
        taken_by=taken_by,
        case_id=case_id,
        created_by=actor.user_id,
        updated_by=actor.user_id,
    )
    session.add(row)
    session.flush()
    search_index.index_testimony(session, row, said, words=words)
    history_service.record_revision(
        session=session,
        actor=actor,
        entity_type="testimony",
        entity_id=row.id,
        case_id=case_id,
        version=1,
        action="create",
        changes=snapshot(row, _FIELDS),
        sealed_changes={name: {"before": None, "after": value} for name, value in said.document().items()},
        sealer=sealer,
    )
    session.flush()
    return _to_read(session, row, _shown(session, sealer, actor, row, said))


def _shown(
    session: Session, sealer: Sealer, actor: Actor, row: Testimony, words: TestimonyWords
) -> TestimonyWords | None:
    """What the caller who just wrote `words` may see of them (a researcher never writes; kept for safety)."""
    if actor.can(Permission.PERSON_READ_IDENTITY):
        return words
    return _shown_words(session=session, sealer=sealer, actor=actor, rows=[row])[row.id]


def _get_or_raise(session: Session, actor: Actor, case_id: uuid.UUID, testimony_id: uuid.UUID) -> Testimony:
    if not actor.can(Permission.TESTIMONY_READ):
        raise PermissionDenied("Your role may not read testimonies.")
    cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    row = session.exec(
        select(Testimony).where(Testimony.id == testimony_id, Testimony.case_id == case_id)
    ).first()
    if row is None:
        raise NotFound(f"No testimony {testimony_id} in this case.")
    return row


def get_testimony(
    *, session: Session, actor: Actor, sealer: Sealer, case_id: uuid.UUID, testimony_id: uuid.UUID
) -> TestimonyRead:
    row = _get_or_raise(session, actor, case_id, testimony_id)
    return _to_read(
        session, row, _shown_words(session=session, sealer=sealer, actor=actor, rows=[row])[row.id]
    )


def list_testimonies(
    *, session: Session, actor: Actor, sealer: Sealer, case_id: uuid.UUID
) -> list[TestimonyRead]:
    """Return the case's unretracted testimonies, in the order they were taken."""
    if not actor.can(Permission.TESTIMONY_READ):
        raise PermissionDenied("Your role may not read testimonies.")
    cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    rows = session.exec(
        select(Testimony)
        .where(Testimony.case_id == case_id, Testimony.retracted_at.is_(None))  # type: ignore[union-attr]
        .order_by(Testimony.taken_at, Testimony.created_at)  # type: ignore[arg-type]
    ).all()
    shown = _shown_words(session=session, sealer=sealer, actor=actor, rows=rows)
    return [_to_read(session, r, shown[r.id]) for r in rows]


def update_testimony(
    *,
    session: Session,
    actor: Actor,
    sealer: Sealer,
    words: WordSeal,
    case_id: uuid.UUID,
    testimony_id: uuid.UUID,
    testimony_in: TestimonyUpdate,
    if_match: str | None,
) -> TestimonyRead:
    """PATCH a testimony if the ETag is current; a change of its words is sealed, and so is its history."""
    _editable_case(session, actor, case_id)
    row = _get_or_raise(session, actor, case_id, testimony_id)
    ensure_not_retracted(row, "testimony")
    check_if_match(if_match, row.version)
    given = testimony_in.model_dump(exclude_unset=True)
    for name in ("language", "text", "taken_at", "reliability", "translations"):
        if name in given and given[name] is None:
            raise ValidationProblem.single(f"body.{name}", "cannot be null")
    _check_taken_at(given.get("taken_at"))
    before = texts.open_one(session=session, sealer=sealer, actor=actor, row=row, purpose="update")
    after = TestimonyWords(
        text=given.pop("text", before.text),
        translations=json_value(given.pop("translations", before.translations)),
    )
    sealed_changes = {
        name: {"before": old, "after": new}
        for (name, old), new in zip(before.document().items(), after.document().values(), strict=True)
        if old != new
    }
    changes = diff(row, given)
    if not changes and not sealed_changes:
        return _to_read(session, row, _shown(session, sealer, actor, row, before))
    derived: dict[str, Any] = {}
    if sealed_changes:
        derived["sealed_text"] = texts.seal(sealer=sealer, testimony_id=row.id, words=after)
        search_index.index_testimony(session, row, after, words=words)
    version = conditional_update(
        session=session,
        model=Testimony,
        row_id=row.id,
        expected_version=row.version,
        values={k: given[k] for k in changes} | derived,
        actor=actor,
    )
    history_service.record_revision(
        session=session,
        actor=actor,
        entity_type="testimony",
        entity_id=row.id,
        case_id=case_id,
        version=version,
        action="update",
        changes=changes,
        sealed_changes=sealed_changes or None,
        sealer=sealer,
    )
    session.flush()
    fresh = reload(session, Testimony, row.id)
    return _to_read(session, fresh, _shown(session, sealer, actor, fresh, after))


def retract_testimony(
    *,
    session: Session,
    actor: Actor,
    sealer: Sealer,
    case_id: uuid.UUID,
    testimony_id: uuid.UUID,
    reason: str,
    if_match: str | None,
) -> TestimonyRead:
    """Retract a testimony; it leaves the case's list and stays in its history."""
    _editable_case(session, actor, case_id)
    row = _get_or_raise(session, actor, case_id, testimony_id)
    check_if_match(if_match, row.version)
    ensure_not_retracted(row, "testimony")
    search_index.remove_source(session, row.id)
    fresh = retract(
        session=session,
        actor=actor,
        model=Testimony,
        row=row,
        reason=reason,
        entity_type="testimony",
        case_id=case_id,
    )
    return _to_read(
        session,
        fresh,
        _shown_words(session=session, sealer=sealer, actor=actor, rows=[fresh])[fresh.id],
    )
