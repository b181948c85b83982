"""Involvements: attach people and organisations to a case in a role; changes are versioned and kept."""

from __future__ import annotations

import uuid

from sqlmodel import Session, select

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.history import service as history_service
from api.models import Involvement, Organisation, Person
from api.people import service as people_service
from api.problems import NotFound, PermissionDenied, ValidationProblem
from api.records import apply_update, check_if_match, ensure_not_retracted, retract, snapshot
from api.search import index as search_index
from api.taxonomy import service as taxonomy_service
from schemas.enums import InvolvementRole
from schemas.involvement import InvolvementCreate, InvolvementRead, InvolvementUpdate, _check_role_fields

_FIELDS = [
    "person_id",
    "organisation_id",
    "role",
    "victim_status",
    "perpetrator_type",
    "detention_type",
    "description",
]


def _to_read(session: Session, row: Involvement) -> InvolvementRead:
    pseudonym = name = None
    if row.person_id is not None:
        person = session.get(Person, row.person_id)
        pseudonym = person.pseudonym if person else None
    if row.organisation_id is not None:
        org = session.get(Organisation, row.organisation_id)
        name = org.name if org else None
    return InvolvementRead.model_validate(row).model_copy(
        update={"person_pseudonym": pseudonym, "organisation_name": name}
    )


def _editable_case(session: Session, actor: Actor, case_id: uuid.UUID) -> None:
    if not actor.can(Permission.INVOLVEMENT_WRITE):
        raise PermissionDenied("Your role may not change involvements.")
    cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)


def _check_facets(session: Session, values: dict[str, object]) -> None:
    for name in ("perpetrator_type", "detention_type"):
        code = values.get(name)
        taxonomy_service.check_vocabulary_code(
            session=session,
            vocabulary=name,
            code=code if isinstance(code, str) else None,
            field=f"body.{name}",
        )


def create_involvement(
    *, session: Session, actor: Actor, case_id: uuid.UUID, involvement_in: InvolvementCreate
) -> InvolvementRead:
    """Attach a person or organisation to a case in a role."""
    _editable_case(session, actor, case_id)
    _check_facets(session, involvement_in.model_dump())
    if involvement_in.person_id is not None:
        try:
            person = people_service.get_person_or_raise(
                session=session, actor=actor, person_id=involvement_in.person_id
            )
        except NotFound:
            raise ValidationProblem.single(
                "body.person_id", "no person with this id that you can see", "not_found"
            ) from None
        ensure_not_retracted(person, "person")
    if (
        involvement_in.organisation_id is not None
        and session.get(Organisation, involvement_in.organisation_id) is None
    ):
        raise ValidationProblem.single("body.organisation_id", "no organisation with this id", "not_found")
    row = Involvement(
        **involvement_in.model_dump(), case_id=case_id, created_by=actor.user_id, updated_by=actor.user_id
    )
    session.add(row)
    session.flush()
    history_service.record_revision(
        session=session,
        actor=actor,
        entity_type="involvement",
        entity_id=row.id,
        case_id=case_id,
        version=1,
        action="create",
        changes=snapshot(row, _FIELDS),
    )
    search_index.refresh_victims(session, case_id, row.person_id)
    session.flush()
    return _to_read(session, row)


def _get_or_raise(
    session: Session, actor: Actor, case_id: uuid.UUID, involvement_id: uuid.UUID
) -> Involvement:
    cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    row = session.exec(
        select(Involvement).where(Involvement.id == involvement_id, Involvement.case_id == case_id)
    ).first()
    if row is None:
        raise NotFound(f"No involvement {involvement_id} in this case.")
    return row


def get_involvement(
    *, session: Session, actor: Actor, case_id: uuid.UUID, involvement_id: uuid.UUID
) -> InvolvementRead:
    return _to_read(session, _get_or_raise(session, actor, case_id, involvement_id))


def list_involvements(*, session: Session, actor: Actor, case_id: uuid.UUID) -> list[InvolvementRead]:
    """Return the case's unretracted involvements, oldest first."""
    cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    rows = session.exec(
        select(Involvement)
        .where(Involvement.case_id == case_id, Involvement.retracted_at.is_(None))  # type: ignore[union-attr]
        .order_by(Involvement.created_at, Involvement.id)  # type: ignore[arg-type]
    ).all()
    return [_to_read(session, r) for r in rows]


def update_involvement(
    *,
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    involvement_id: uuid.UUID,
    involvement_in: InvolvementUpdate,
    if_match: str | None,
) -> InvolvementRead:
    """PATCH an involvement if the ETag is current."""
    _editable_case(session, actor, case_id)
    row = _get_or_raise(session, actor, case_id, involvement_id)
    ensure_not_retracted(row, "involvement")
    check_if_match(if_match, row.version)
    given = involvement_in.model_dump(exclude_unset=True)
    _check_facets(session, given)
    merged = {
        f: given.get(f, getattr(row, f))
        for f in ("role", "victim_status", "perpetrator_type", "detention_type")
    }
    if "role" in given and given["role"] is not InvolvementRole.VICTIM:
        # Changing away from victim clears victim-only fields unless the caller set them explicitly.
        for f in ("victim_status", "detention_type"):
            if f not in given:
                merged[f] = given[f] = None
    try:
        _check_role_fields(
            InvolvementRole(merged["role"]),
            merged["victim_status"],
            merged["perpetrator_type"],
            merged["detention_type"],
        )
    except ValueError as exc:
        raise ValidationProblem.single("body", str(exc)) from exc
    row = apply_update(
        session=session,
        actor=actor,
        model=Involvement,
        row=row,
        values=given,
        entity_type="involvement",
        case_id=case_id,
        before_commit=lambda: search_index.refresh_victims(session, case_id, row.person_id),
    )
    return _to_read(session, row)


def retract_involvement(
    *,
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    involvement_id: uuid.UUID,
    reason: str,
    if_match: str | None,
) -> InvolvementRead:
    """Retract an involvement; it leaves the case's list and stays in its history."""
    _editable_case(session, actor, case_id)
    row = _get_or_raise(session, actor, case_id, involvement_id)
    ensure_not_retracted(row, "involvement")
    check_if_match(if_match, row.version)
    fresh = retract(
        session=session,
        actor=actor,
        model=Involvement,
        row=row,
        reason=reason,
        entity_type="involvement",
        case_id=case_id,
        before_commit=lambda: search_index.refresh_victims(session, case_id, row.person_id),
    )
    return _to_read(session, fresh)
