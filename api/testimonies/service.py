"""Testimonies: recorded against a case, given by a visible person, versioned and never deleted."""

from __future__ import annotations

import uuid

from sqlmodel import Session, select

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.cases.dates import latest_possible_today
from api.history import service as history_service
from api.models import Person, Testimony, User
from api.people import service as people_service
from api.problems import NotFound, PermissionDenied, ValidationProblem
from api.records import apply_update, check_if_match, ensure_not_retracted, json_value, retract, snapshot
from api.search import index as search_index
from schemas.testimony import TestimonyCreate, TestimonyRead, TestimonyUpdate

_FIELDS = [
    "source_person_id",
    "taken_by",
    "taken_at",
    "place",
    "language",
    "text",
    "translations",
    "reliability",
]


def _to_read(session: Session, row: Testimony) -> TestimonyRead:
    person = session.get(Person, row.source_person_id)
    return TestimonyRead.model_validate(row).model_copy(
        update={"source_pseudonym": person.pseudonym if person else None}
    )


def _check_taken_at(value: object) -> None:
    if value is not None and value > latest_possible_today():  # type: ignore[operator]
        raise ValidationProblem.single("body.taken_at", "must not be in the future", "date_range")


def _editable_case(session: Session, actor: Actor, case_id: uuid.UUID) -> None:
    if not actor.can(Permission.TESTIMONY_WRITE):
        raise PermissionDenied("Your role may not record testimonies.")
    cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)


def create_testimony(
    *, session: Session, actor: Actor, case_id: uuid.UUID, testimony_in: TestimonyCreate
) -> TestimonyRead:
    """Record a testimony given by a person the caller can see."""
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
    if session.get(User, taken_by) is None:
        raise ValidationProblem.single("body.taken_by", "no user with this id", "not_found")
    row = Testimony(
        **testimony_in.model_dump(exclude={"translations", "taken_by"}),
        translations=json_value([t.model_dump() for t in testimony_in.translations]),
        taken_by=taken_by,
        case_id=case_id,
        created_by=actor.user_id,
        updated_by=actor.user_id,
    )
    session.add(row)
    session.flush()
    search_index.index_testimony(session, row)
    history_service.record_revision(
        session=session,
        actor=actor,
        entity_type="testimony",
        entity_id=row.id,
        case_id=case_id,
        version=1,
        action="create",
        changes=snapshot(row, _FIELDS),
    )
    session.commit()
    return _to_read(session, row)


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
    *, session: Session, actor: Actor, case_id: uuid.UUID, testimony_id: uuid.UUID
) -> TestimonyRead:
    return _to_read(session, _get_or_raise(session, actor, case_id, testimony_id))


def list_testimonies(*, session: Session, actor: Actor, case_id: uuid.UUID) -> list[TestimonyRead]:
    """Return the case's unretracted testimonies, in the order they were taken."""
    if not actor.can(Permission.TESTIMONY_READ):
        raise PermissionDenied("Your role may not read testimonies.")
    cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    rows = session.exec(
        select(Testimony)
        .where(Testimony.case_id == case_id, Testimony.retracted_at.is_(None))  # type: ignore[union-attr]
        .order_by(Testimony.taken_at, Testimony.created_at)  # type: ignore[arg-type]
    ).all()
    return [_to_read(session, r) for r in rows]


def update_testimony(
    *,
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    testimony_id: uuid.UUID,
    testimony_in: TestimonyUpdate,
    if_match: str | None,
) -> TestimonyRead:
    """PATCH a testimony if the ETag is current."""
    _editable_case(session, actor, case_id)
    row = _get_or_raise(session, actor, case_id, testimony_id)
    ensure_not_retracted(row, "testimony")
    check_if_match(if_match, row.version)
    given = testimony_in.model_dump(exclude_unset=True)
    for name in ("language", "text", "taken_at", "reliability", "translations"):
        if name in given and given[name] is None:
            raise ValidationProblem.single(f"body.{name}", "cannot be null")
    _check_taken_at(given.get("taken_at"))
    if "translations" in given:
        given["translations"] = json_value(given["translations"])
    if "text" in given or "translations" in given:
        # Written in the transaction apply_update() commits (rolled back with it when nothing changed).
        search_index.index_testimony(session, row, **given)
    fresh = apply_update(
        session=session,
        actor=actor,
        model=Testimony,
        row=row,
        values=given,
        entity_type="testimony",
        case_id=case_id,
    )
    return _to_read(session, fresh)


def retract_testimony(
    *,
    session: Session,
    actor: Actor,
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
    return _to_read(session, fresh)
