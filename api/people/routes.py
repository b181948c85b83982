"""People (pseudonymous, identities behind person:read_identity), their consents, and organisations."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.deps import ContextDep, Require, SessionDep
from api.history import service as history_service
from api.people import service as people_service
from api.problems import problem_responses
from api.routing import IfMatch, SessionRoute, with_etag
from schemas.base import Page, QueryText, Schema
from schemas.history import RevisionRead
from schemas.involvement import RetractionIn
from schemas.person import (
    ConsentCreate,
    ConsentRead,
    ConsentWithdrawal,
    OrganisationCreate,
    OrganisationRead,
    OrganisationUpdate,
    PersonCreate,
    PersonRead,
    PersonUpdate,
)

router = APIRouter(route_class=SessionRoute, prefix="/people", tags=["people"])
organisations_router = APIRouter(route_class=SessionRoute, prefix="/organisations", tags=["organisations"])

Reader = Annotated[Actor, Depends(Require(Permission.PERSON_READ))]
Writer = Annotated[Actor, Depends(Require(Permission.PERSON_WRITE))]
HistoryReader = Annotated[Actor, Depends(Require(Permission.PERSON_READ, Permission.HISTORY_READ))]
ConsentReader = Annotated[Actor, Depends(Require(Permission.CONSENT_READ))]
ConsentWriter = Annotated[Actor, Depends(Require(Permission.CONSENT_WRITE))]
OrgWriter = Annotated[Actor, Depends(Require(Permission.ORGANISATION_WRITE))]
_EDIT_PROBLEMS = problem_responses(401, 403, 404, 409, 412, 422, 428)


class ListQuery(Schema):
    q: QueryText | None = Field(
        default=None, max_length=200, description="Part of the pseudonym (or name) to look for."
    )
    cursor: str | None = Field(default=None, max_length=2048)
    limit: int = Field(default=50, ge=1, le=200)


@router.post("", response_model=PersonRead, status_code=201, responses=problem_responses(401, 403, 422))
def create_person(
    person_in: PersonCreate, session: SessionDep, ctx: ContextDep, actor: Writer, response: Response
) -> PersonRead:
    """Record a person under a pseudonym; the identity is sealed and shown only with person:read_identity."""
    person = people_service.create_person(
        session=session, actor=actor, sealer=ctx.sealer, person_in=person_in
    )
    response.headers["Location"] = f"/api/v1/people/{person.id}"
    with_etag(response, person.version)
    return person


@router.get("", response_model=Page[PersonRead], responses=problem_responses(401, 403, 422))
def list_people(
    query: Annotated[ListQuery, Query()], session: SessionDep, ctx: ContextDep, actor: Reader
) -> Page[PersonRead]:
    """List the people you may see, by pseudonym."""
    return people_service.list_people(
        session=session,
        actor=actor,
        sealer=ctx.sealer,
        cursor=query.cursor,
        limit=query.limit,
        secret=ctx.secret,
        q=query.q,
    )


@router.get("/{person_id}", response_model=PersonRead, responses=problem_responses(401, 403, 404, 422))
def get_person(
    person_id: uuid.UUID, session: SessionDep, ctx: ContextDep, actor: Reader, response: Response
) -> PersonRead:
    """Return a person; identity only with person:read_identity (and the read is audited)."""
    person = people_service.get_person(session=session, actor=actor, sealer=ctx.sealer, person_id=person_id)
    with_etag(response, person.version)
    return person


@router.patch("/{person_id}", response_model=PersonRead, responses=_EDIT_PROBLEMS)
def update_person(
    person_id: uuid.UUID,
    person_in: PersonUpdate,
    session: SessionDep,
    ctx: ContextDep,
    actor: Writer,
    response: Response,
    if_match: IfMatch = None,
) -> PersonRead:
    """Change a person; identity fields merge into the sealed identity. Send the ETag as If-Match."""
    person = people_service.update_person(
        session=session,
        actor=actor,
        sealer=ctx.sealer,
        person_id=person_id,
        person_in=person_in,
        if_match=if_match,
    )
    with_etag(response, person.version)
    return person


@router.post("/{person_id}/retract", response_model=PersonRead, responses=_EDIT_PROBLEMS)
def retract_person(
    person_id: uuid.UUID,
    retraction: RetractionIn,
    session: SessionDep,
    ctx: ContextDep,
    actor: Writer,
    response: Response,
    if_match: IfMatch = None,
) -> PersonRead:
    """Retract a person record with a reason."""
    person = people_service.retract_person(
        session=session,
        actor=actor,
        sealer=ctx.sealer,
        person_id=person_id,
        reason=retraction.reason,
        if_match=if_match,
    )
    with_etag(response, person.version)
    return person


@router.get(
    "/{person_id}/history", response_model=list[RevisionRead], responses=problem_responses(401, 403, 404, 422)
)
def person_history(
    person_id: uuid.UUID, session: SessionDep, ctx: ContextDep, actor: HistoryReader
) -> list[RevisionRead]:
    """Every change to the person, oldest first; identity values only with person:read_identity."""
    people_service.get_person_or_raise(session=session, actor=actor, person_id=person_id)
    return history_service.list_revisions(
        session=session, actor=actor, entity_type="person", entity_id=person_id, sealer=ctx.sealer
    )


@router.get(
    "/{person_id}/consents", response_model=list[ConsentRead], responses=problem_responses(401, 403, 404, 422)
)
def list_consents(person_id: uuid.UUID, session: SessionDep, actor: ConsentReader) -> list[ConsentRead]:
    """Every consent the person gave, withdrawn ones included."""
    return people_service.list_consents(session=session, actor=actor, person_id=person_id)


@router.post(
    "/{person_id}/consents",
    response_model=ConsentRead,
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def record_consent(
    person_id: uuid.UUID, consent_in: ConsentCreate, session: SessionDep, actor: ConsentWriter
) -> ConsentRead:
    """Record the person's consent to be named to one audience (internal, ilo, ituc, un, partner, media, ...)."""
    return people_service.record_consent(
        session=session, actor=actor, person_id=person_id, consent_in=consent_in
    )


@router.post(
    "/{person_id}/consents/{consent_id}/withdraw",
    response_model=ConsentRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def withdraw_consent(
    person_id: uuid.UUID,
    consent_id: uuid.UUID,
    withdrawal: ConsentWithdrawal,
    session: SessionDep,
    actor: ConsentWriter,
) -> ConsentRead:
    """Record that the person withdrew a consent; the consent record is kept."""
    return people_service.withdraw_consent(
        session=session, actor=actor, person_id=person_id, consent_id=consent_id, withdrawal=withdrawal
    )


@router.get(
    "/{person_id}/consents/{consent_id}/history",
    response_model=list[RevisionRead],
    responses=problem_responses(401, 403, 404, 422),
)
def consent_history(
    person_id: uuid.UUID, consent_id: uuid.UUID, session: SessionDep, ctx: ContextDep, actor: ConsentReader
) -> list[RevisionRead]:
    """Every change to the consent (its recording and any withdrawal)."""
    people_service.get_consent_or_raise(
        session=session, actor=actor, person_id=person_id, consent_id=consent_id
    )
    return history_service.list_revisions(
        session=session, actor=actor, entity_type="consent", entity_id=consent_id, sealer=ctx.sealer
    )


@organisations_router.post(
    "", response_model=OrganisationRead, status_code=201, responses=problem_responses(401, 403, 422)
)
def create_organisation(
    org_in: OrganisationCreate, session: SessionDep, actor: OrgWriter, response: Response
) -> OrganisationRead:
    """Record a union, employer, state body or court."""
    org = people_service.create_organisation(session=session, actor=actor, org_in=org_in)
    with_etag(response, org.version)
    return org


@organisations_router.get(
    "", response_model=Page[OrganisationRead], responses=problem_responses(401, 403, 422)
)
def list_organisations(
    query: Annotated[ListQuery, Query()], session: SessionDep, ctx: ContextDep, actor: Reader
) -> Page[OrganisationRead]:
    """List organisations by name."""
    return people_service.list_organisations(
        session=session, actor=actor, cursor=query.cursor, limit=query.limit, secret=ctx.secret, q=query.q
    )


@organisations_router.get(
    "/{organisation_id}", response_model=OrganisationRead, responses=problem_responses(401, 403, 404, 422)
)
def get_organisation(
    organisation_id: uuid.UUID, session: SessionDep, actor: Reader, response: Response
) -> OrganisationRead:
    """Return one organisation."""
    org = people_service.get_organisation_or_raise(
        session=session, actor=actor, organisation_id=organisation_id
    )
    with_etag(response, org.version)
    return OrganisationRead.model_validate(org)


@organisations_router.patch("/{organisation_id}", response_model=OrganisationRead, responses=_EDIT_PROBLEMS)
def update_organisation(
    organisation_id: uuid.UUID,
    org_in: OrganisationUpdate,
    session: SessionDep,
    actor: OrgWriter,
    response: Response,
    if_match: IfMatch = None,
) -> OrganisationRead:
    """Change an organisation; send the ETag as If-Match."""
    org = people_service.update_organisation(
        session=session, actor=actor, organisation_id=organisation_id, org_in=org_in, if_match=if_match
    )
    with_etag(response, org.version)
    return org


@organisations_router.get(
    "/{organisation_id}/history",
    response_model=list[RevisionRead],
    responses=problem_responses(401, 403, 404, 422),
)
def organisation_history(
    organisation_id: uuid.UUID, session: SessionDep, ctx: ContextDep, actor: HistoryReader
) -> list[RevisionRead]:
    """Every change to the organisation, oldest first."""
    people_service.get_organisation_or_raise(session=session, actor=actor, organisation_id=organisation_id)
    return history_service.list_revisions(
        session=session, actor=actor, entity_type="organisation", entity_id=organisation_id, sealer=ctx.sealer
    )
