"""People, organisations and consents: who may see them, identities sealed at rest, consents never deleted."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.cases.dates import latest_possible_today
from api.history import service as history_service
from api.identity import door
from api.models import Case, Consent, Involvement, Organisation, Person, PersonIdentity, Testimony
from api.models.base import utcnow
from api.pagination import keyset_page
from api.problems import Conflict, NotFound, PermissionDenied, ValidationProblem
from api.records import (
    apply_update,
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
from api.text import fold
from schemas.base import Page
from schemas.person import (
    ConsentCreate,
    ConsentRead,
    ConsentWithdrawal,
    Identity,
    OrganisationCreate,
    OrganisationRead,
    OrganisationUpdate,
    PersonCreate,
    PersonRead,
    PersonUpdate,
)

_PERSON_FIELDS = [
    "pseudonym",
    "counting_unit",
    "group_size",
    "risk_status",
    "relatives_in_country",
    "risk_reviewed_on",
    "organisation_id",
    "occupation",
]
_ORG_FIELDS = ["name", "kind", "country", "sector", "notes"]


# ---- visibility -------------------------------------------------------------------------------------------


def person_visible_clause(actor: Actor) -> sa.ColumnElement[bool]:
    """SQL condition selecting the people `actor` may see: their own, and those in cases they may see."""
    if not actor.can(Permission.PERSON_READ) or actor.duress:  # duress: an empty workspace
        return sa.false()
    if actor.can(Permission.CASE_READ_RESTRICTED):
        return sa.true()
    visible_cases = select(Case.id).where(cases_service.visible_clause(actor))
    return sa.or_(
        col(Person.created_by) == actor.user_id,
        Person.id.in_(  # type: ignore[attr-defined]
            select(Involvement.person_id).where(
                Involvement.case_id.in_(visible_cases),  # type: ignore[attr-defined]
                Involvement.retracted_at.is_(None),  # type: ignore[union-attr]
            )
        ),
        Person.id.in_(  # type: ignore[attr-defined]
            select(Testimony.source_person_id).where(
                Testimony.case_id.in_(visible_cases),  # type: ignore[attr-defined]
                Testimony.retracted_at.is_(None),  # type: ignore[union-attr]
            )
        ),
    )


def get_person_or_raise(*, session: Session, actor: Actor, person_id: uuid.UUID) -> Person:
    """Return a person the actor may see, else 404."""
    person = session.exec(select(Person).where(Person.id == person_id, person_visible_clause(actor))).first()
    if person is None:
        raise NotFound(f"No person {person_id} that you can see.")
    return person


def get_editable_person_or_raise(*, session: Session, actor: Actor, person_id: uuid.UUID) -> Person:
    person = get_person_or_raise(session=session, actor=actor, person_id=person_id)
    if not actor.can(Permission.PERSON_WRITE):
        raise PermissionDenied("Your role may not change people.")
    ensure_not_retracted(person, "person")
    return person


# ---- identity sealing -------------------------------------------------------------------------------------


def _identity_context(person_id: uuid.UUID) -> str:
    return f"person:{person_id}"


def read_identity(
    *, session: Session, sealer: Sealer, actor: Actor, person_id: uuid.UUID, purpose: door.Purpose
) -> dict[str, Any] | None:
    """Open a person's sealed identity through the audited door (None when none was recorded)."""
    return open_identities(
        session=session, sealer=sealer, actor=actor, person_ids=[person_id], purpose=purpose
    ).get(person_id)


def open_identities(
    *,
    session: Session,
    sealer: Sealer,
    actor: Actor,
    person_ids: list[uuid.UUID],
    purpose: door.Purpose,
) -> dict[uuid.UUID, dict[str, Any]]:
    """Open the sealed identities of these people (those who have one), recorded as one audit event."""
    if not person_ids:
        return {}
    rows = session.exec(select(PersonIdentity).where(col(PersonIdentity.person_id).in_(person_ids))).all()
    values = [door.SealedValue(row.person_id, row.sealed, _identity_context(row.person_id)) for row in rows]
    opened = door.open_identities(
        session=session,
        sealer=sealer,
        actor=actor,
        kind=door.SealedKind.PERSON_IDENTITY,
        values=values,
        purpose=purpose,
    )
    return {value.subject_id: identity for value, identity in zip(values, opened, strict=True)}


def _write_identity(
    *, session: Session, sealer: Sealer, person_id: uuid.UUID, identity: dict[str, Any]
) -> None:
    sealed = sealer.seal(identity, context=_identity_context(person_id))
    row = session.get(PersonIdentity, person_id)
    if row is None:
        session.add(PersonIdentity(person_id=person_id, key_id=sealer.key_id, sealed=sealed))
    else:
        row.sealed, row.key_id, row.updated_at = sealed, sealer.key_id, utcnow()
        session.add(row)


def _identity_diff(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    before = before or {}
    return {
        k: {"before": before.get(k), "after": after.get(k)}
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    }


# ---- people -----------------------------------------------------------------------------------------------


def person_to_read(
    *, session: Session, actor: Actor, sealer: Sealer, person: Person, with_identity: bool = True
) -> PersonRead:
    """Wire form of a person; the identity (opened through the audited door) only for callers holding
    person:read_identity who want it."""
    opened = None
    if with_identity and actor.can(Permission.PERSON_READ_IDENTITY):
        opened = read_identity(
            session=session, sealer=sealer, actor=actor, person_id=person.id, purpose="show"
        )
    return _person_read(person, opened)


def _person_read(person: Person, opened: dict[str, Any] | None) -> PersonRead:
    identity = Identity.model_validate(opened) if opened is not None else None
    return PersonRead(
        **{name: getattr(person, name) for name in _PERSON_FIELDS},
        id=person.id,
        identity=identity,
        created_by=person.created_by,
        created_at=person.created_at,
        updated_at=person.updated_at,
        version=person.version,
        retracted_at=person.retracted_at,
    )


def _check_organisation(session: Session, organisation_id: uuid.UUID | None) -> None:
    if organisation_id is not None and session.get(Organisation, organisation_id) is None:
        raise ValidationProblem.single("body.organisation_id", "no organisation with this id", "not_found")


def create_person(*, session: Session, actor: Actor, sealer: Sealer, person_in: PersonCreate) -> PersonRead:
    """Record a person under a pseudonym, sealing the identity if one is given."""
    _check_organisation(session, person_in.organisation_id)
    person = Person(
        **person_in.model_dump(include=set(_PERSON_FIELDS)),
        pseudonym_fold=fold(person_in.pseudonym),
        created_by=actor.user_id,
        updated_by=actor.user_id,
    )
    session.add(person)
    session.flush()
    identity_changes = None
    if person_in.identity is not None:
        identity = json_value(person_in.identity.model_dump(exclude_none=True))
        _write_identity(session=session, sealer=sealer, person_id=person.id, identity=identity)
        identity_changes = _identity_diff(None, identity)
    history_service.record_revision(
        session=session,
        actor=actor,
        entity_type="person",
        entity_id=person.id,
        version=1,
        action="create",
        changes=snapshot(person, _PERSON_FIELDS),
        identity_changes=identity_changes,
        sealer=sealer,
    )
    read = person_to_read(session=session, actor=actor, sealer=sealer, person=person)
    session.flush()
    return read


def update_person(
    *,
    session: Session,
    actor: Actor,
    sealer: Sealer,
    person_id: uuid.UUID,
    person_in: PersonUpdate,
    if_match: str | None,
) -> PersonRead:
    """PATCH a person (and merge identity fields) if the ETag is current."""
    person = get_editable_person_or_raise(session=session, actor=actor, person_id=person_id)
    check_if_match(if_match, person.version)
    given = person_in.model_dump(exclude_unset=True, include=set(_PERSON_FIELDS))
    if "organisation_id" in given:
        _check_organisation(session, given["organisation_id"])
    changes = diff(person, given)
    if "pseudonym" in changes:
        given["pseudonym_fold"] = fold(given["pseudonym"])
    identity_changes = None
    if person_in.identity is not None:
        if not actor.can(Permission.PERSON_READ_IDENTITY):
            raise PermissionDenied("Changing an identity needs person:read_identity.")
        before = read_identity(
            session=session, sealer=sealer, actor=actor, person_id=person.id, purpose="update"
        )
        patch = json_value(person_in.identity.model_dump(exclude_unset=True))
        after = {k: v for k, v in {**(before or {}), **patch}.items() if v not in (None, [], "")}
        identity_changes = _identity_diff(before, after) or None
        if identity_changes:
            _write_identity(session=session, sealer=sealer, person_id=person.id, identity=after)
    if not changes and not identity_changes:
        unchanged = person_to_read(session=session, actor=actor, sealer=sealer, person=person)
        session.flush()
        return unchanged
    version = conditional_update(
        session=session,
        model=Person,
        row_id=person.id,
        expected_version=person.version,
        values={k: given[k] for k in [*changes, "pseudonym_fold"] if k in given},
        actor=actor,
    )
    history_service.record_revision(
        session=session,
        actor=actor,
        entity_type="person",
        entity_id=person.id,
        version=version,
        action="update",
        changes=changes,
        identity_changes=identity_changes,
        sealer=sealer,
    )
    read = person_to_read(
        session=session, actor=actor, sealer=sealer, person=reload(session, Person, person.id)
    )
    session.flush()
    return read


def retract_person(
    *, session: Session, actor: Actor, sealer: Sealer, person_id: uuid.UUID, reason: str, if_match: str | None
) -> PersonRead:
    """Retract a person record; it leaves lists and stays in history."""
    person = get_editable_person_or_raise(session=session, actor=actor, person_id=person_id)
    check_if_match(if_match, person.version)
    fresh = retract(
        session=session, actor=actor, model=Person, row=person, reason=reason, entity_type="person"
    )
    return person_to_read(session=session, actor=actor, sealer=sealer, person=fresh)


def get_person(*, session: Session, actor: Actor, sealer: Sealer, person_id: uuid.UUID) -> PersonRead:
    """Return a visible person; reading an identity is written to the audit log (api.identity.door)."""
    person = get_person_or_raise(session=session, actor=actor, person_id=person_id)
    return person_to_read(session=session, actor=actor, sealer=sealer, person=person)


def list_people(
    *,
    session: Session,
    actor: Actor,
    sealer: Sealer,
    cursor: str | None,
    limit: int,
    secret: bytes,
    q: str | None,
    with_identity: bool = True,
) -> Page[PersonRead]:
    """Return one page of visible, unretracted people by pseudonym (identities opened only if wanted)."""
    conditions = [person_visible_clause(actor), Person.retracted_at.is_(None)]  # type: ignore[union-attr]
    if q:
        conditions.append(Person.pseudonym_fold.contains(fold(q), autoescape=True))  # type: ignore[attr-defined]
    page = keyset_page(
        session=session,
        model=Person,
        conditions=conditions,
        sort="pseudonym",
        kind="people",
        cursor=cursor,
        limit=limit,
        secret=secret,
    )
    identities: dict[uuid.UUID, dict[str, Any]] = {}
    if with_identity and actor.can(Permission.PERSON_READ_IDENTITY):
        identities = open_identities(
            session=session, sealer=sealer, actor=actor, person_ids=[p.id for p in page.rows], purpose="show"
        )
    items = [_person_read(p, identities.get(p.id)) for p in page.rows]
    return Page[PersonRead](items=items, total=page.total, next_cursor=page.next_cursor)


# ---- organisations ----------------------------------------------------------------------------------------


def create_organisation(*, session: Session, actor: Actor, org_in: OrganisationCreate) -> OrganisationRead:
    """Record a union, employer, state body or court."""
    org = Organisation(
        **org_in.model_dump(), name_fold=fold(org_in.name), created_by=actor.user_id, updated_by=actor.user_id
    )
    session.add(org)
    session.flush()
    history_service.record_revision(
        session=session,
        actor=actor,
        entity_type="organisation",
        entity_id=org.id,
        version=1,
        action="create",
        changes=snapshot(org, _ORG_FIELDS),
    )
    session.flush()
    return OrganisationRead.model_validate(org)


def get_organisation_or_raise(*, session: Session, actor: Actor, organisation_id: uuid.UUID) -> Organisation:
    if not actor.can(Permission.PERSON_READ):
        raise NotFound(f"No organisation {organisation_id} that you can see.")
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound(f"No organisation {organisation_id}.")
    return org


def update_organisation(
    *,
    session: Session,
    actor: Actor,
    organisation_id: uuid.UUID,
    org_in: OrganisationUpdate,
    if_match: str | None,
) -> OrganisationRead:
    """PATCH an organisation if the ETag is current."""
    org = get_organisation_or_raise(session=session, actor=actor, organisation_id=organisation_id)
    ensure_not_retracted(org, "organisation")
    check_if_match(if_match, org.version)
    given = org_in.model_dump(exclude_unset=True)
    if given.get("name", "") is None or given.get("kind", "") is None:
        raise ValidationProblem.single("body.name", "name and kind cannot be null")
    org = apply_update(
        session=session,
        actor=actor,
        model=Organisation,
        row=org,
        values=given,
        entity_type="organisation",
        derived={"name_fold": fold(given["name"])} if given.get("name") else None,
    )
    return OrganisationRead.model_validate(org)


def list_organisations(
    *, session: Session, actor: Actor, cursor: str | None, limit: int, secret: bytes, q: str | None
) -> Page[OrganisationRead]:
    """Return one page of organisations by name."""
    if not actor.can(Permission.PERSON_READ):
        return Page[OrganisationRead](items=[], total=0)
    conditions: list[Any] = [Organisation.retracted_at.is_(None)]  # type: ignore[union-attr]
    if q:
        conditions.append(Organisation.name_fold.contains(fold(q), autoescape=True))  # type: ignore[attr-defined]
    page = keyset_page(
        session=session,
        model=Organisation,
        conditions=conditions,
        sort="name",
        kind="organisations",
        cursor=cursor,
        limit=limit,
        secret=secret,
    )
    return Page[OrganisationRead](
        items=[OrganisationRead.model_validate(o) for o in page.rows],
        total=page.total,
        next_cursor=page.next_cursor,
    )


# ---- consents ---------------------------------------------------------------------------------------------


def consent_to_read(consent: Consent) -> ConsentRead:
    return ConsentRead.model_validate(consent)


def _visible_person_for_consent(session: Session, actor: Actor, person_id: uuid.UUID) -> Person:
    if not actor.can(Permission.CONSENT_READ):
        raise PermissionDenied("Your role may not see consents.")
    return get_person_or_raise(session=session, actor=actor, person_id=person_id)


def get_consent_or_raise(
    *, session: Session, actor: Actor, person_id: uuid.UUID, consent_id: uuid.UUID
) -> Consent:
    """Return a consent of a person the actor may see, else 404."""
    _visible_person_for_consent(session, actor, person_id)
    consent = session.exec(
        select(Consent).where(Consent.id == consent_id, Consent.person_id == person_id)
    ).first()
    if consent is None:
        raise NotFound(f"No consent {consent_id} for this person.")
    return consent


def list_consents(*, session: Session, actor: Actor, person_id: uuid.UUID) -> list[ConsentRead]:
    """Return every consent of a person, withdrawn ones included, oldest first."""
    _visible_person_for_consent(session, actor, person_id)
    rows = session.exec(
        select(Consent).where(Consent.person_id == person_id).order_by(Consent.recorded_at, Consent.id)  # type: ignore[arg-type]
    ).all()
    return [consent_to_read(c) for c in rows]


def record_consent(
    *, session: Session, actor: Actor, person_id: uuid.UUID, consent_in: ConsentCreate
) -> ConsentRead:
    """Record a person's consent to be named to one audience."""
    person = _visible_person_for_consent(session, actor, person_id)
    if not actor.can(Permission.CONSENT_WRITE):
        raise PermissionDenied("Your role may not record consents.")
    ensure_not_retracted(person, "person")
    if consent_in.granted_at > latest_possible_today():
        raise ValidationProblem.single("body.granted_at", "must not be in the future", "date_range")
    consent = Consent(**consent_in.model_dump(), person_id=person.id, recorded_by=actor.user_id)
    session.add(consent)
    session.flush()
    history_service.record_revision(
        session=session,
        actor=actor,
        entity_type="consent",
        entity_id=consent.id,
        version=1,
        action="create",
        changes=snapshot(
            consent, ["person_id", "audience", "granted_at", "method", "purpose", "text_version"]
        ),
    )
    session.flush()
    return consent_to_read(consent)


def withdraw_consent(
    *,
    session: Session,
    actor: Actor,
    person_id: uuid.UUID,
    consent_id: uuid.UUID,
    withdrawal: ConsentWithdrawal,
) -> ConsentRead:
    """Record a withdrawal: the consent stops counting for exports, its record stays."""
    if not actor.can(Permission.CONSENT_WRITE):
        raise PermissionDenied("Your role may not record consents.")
    consent = get_consent_or_raise(session=session, actor=actor, person_id=person_id, consent_id=consent_id)
    if consent.withdrawn_at is not None:
        raise Conflict("This consent was already withdrawn.")
    if withdrawal.withdrawn_at > latest_possible_today():
        raise ValidationProblem.single("body.withdrawn_at", "must not be in the future", "date_range")
    if withdrawal.withdrawn_at < consent.granted_at:
        raise ValidationProblem.single(
            "body.withdrawn_at", "must not be before the consent was granted", "date_range"
        )
    values = {
        "withdrawn_at": withdrawal.withdrawn_at,
        "withdrawal_reason": withdrawal.reason,
        "withdrawal_recorded_by": actor.user_id,
        "withdrawal_recorded_at": utcnow(),
    }
    version = conditional_update(
        session=session, model=Consent, row_id=consent.id, expected_version=consent.version, values=values
    )
    history_service.record_revision(
        session=session,
        actor=actor,
        entity_type="consent",
        entity_id=consent.id,
        version=version,
        action="withdraw",
        changes={"withdrawn_at": {"before": None, "after": withdrawal.withdrawn_at.isoformat()}},
        reason=withdrawal.reason,
    )
    session.flush()
    fresh = reload(session, Consent, consent.id)
    return consent_to_read(fresh)
