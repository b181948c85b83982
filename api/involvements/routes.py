"""Involvements of people and organisations in a case."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.deps import ContextDep, Require, SessionDep
from api.history import service as history_service
from api.involvements import service as involvements_service
from api.problems import problem_responses
from api.routing import IfMatch, SessionRoute, with_etag
from schemas.history import RevisionRead
from schemas.involvement import InvolvementCreate, InvolvementRead, InvolvementUpdate, RetractionIn

router = APIRouter(route_class=SessionRoute, prefix="/cases/{case_id}/involvements", tags=["involvements"])

Reader = Annotated[Actor, Depends(Require(Permission.CASE_READ))]
Writer = Annotated[Actor, Depends(Require(Permission.INVOLVEMENT_WRITE))]
HistoryReader = Annotated[Actor, Depends(Require(Permission.CASE_READ, Permission.HISTORY_READ))]
_EDIT_PROBLEMS = problem_responses(401, 403, 404, 409, 412, 422, 428)


@router.post(
    "", response_model=InvolvementRead, status_code=201, responses=problem_responses(401, 403, 404, 409, 422)
)
def create_involvement(
    case_id: uuid.UUID,
    involvement_in: InvolvementCreate,
    session: SessionDep,
    actor: Writer,
    response: Response,
) -> InvolvementRead:
    """Attach a person or organisation to the case as victim, perpetrator, witness, source or representative."""
    row = involvements_service.create_involvement(
        session=session, actor=actor, case_id=case_id, involvement_in=involvement_in
    )
    with_etag(response, row.version)
    return row


@router.get("", response_model=list[InvolvementRead], responses=problem_responses(401, 403, 404, 422))
def list_involvements(case_id: uuid.UUID, session: SessionDep, actor: Reader) -> list[InvolvementRead]:
    """List who is involved in the case (people by pseudonym)."""
    return involvements_service.list_involvements(session=session, actor=actor, case_id=case_id)


@router.get(
    "/{involvement_id}", response_model=InvolvementRead, responses=problem_responses(401, 403, 404, 422)
)
def get_involvement(
    case_id: uuid.UUID, involvement_id: uuid.UUID, session: SessionDep, actor: Reader, response: Response
) -> InvolvementRead:
    """Return one involvement."""
    row = involvements_service.get_involvement(
        session=session, actor=actor, case_id=case_id, involvement_id=involvement_id
    )
    with_etag(response, row.version)
    return row


@router.patch("/{involvement_id}", response_model=InvolvementRead, responses=_EDIT_PROBLEMS)
def update_involvement(
    case_id: uuid.UUID,
    involvement_id: uuid.UUID,
    involvement_in: InvolvementUpdate,
    session: SessionDep,
    actor: Writer,
    response: Response,
    if_match: IfMatch = None,
) -> InvolvementRead:
    """Change an involvement's role or status; send the ETag you read as If-Match."""
    row = involvements_service.update_involvement(
        session=session,
        actor=actor,
        case_id=case_id,
        involvement_id=involvement_id,
        involvement_in=involvement_in,
        if_match=if_match,
    )
    with_etag(response, row.version)
    return row


@router.post("/{involvement_id}/retract", response_model=InvolvementRead, responses=_EDIT_PROBLEMS)
def retract_involvement(
    case_id: uuid.UUID,
    involvement_id: uuid.UUID,
    retraction: RetractionIn,
    session: SessionDep,
    actor: Writer,
    response: Response,
    if_match: IfMatch = None,
) -> InvolvementRead:
    """Retract an involvement with a reason."""
    row = involvements_service.retract_involvement(
        session=session,
        actor=actor,
        case_id=case_id,
        involvement_id=involvement_id,
        reason=retraction.reason,
        if_match=if_match,
    )
    with_etag(response, row.version)
    return row


@router.get(
    "/{involvement_id}/history",
    response_model=list[RevisionRead],
    responses=problem_responses(401, 403, 404, 422),
)
def involvement_history(
    case_id: uuid.UUID, involvement_id: uuid.UUID, session: SessionDep, ctx: ContextDep, actor: HistoryReader
) -> list[RevisionRead]:
    """Every change to this involvement, oldest first."""
    involvements_service.get_involvement(
        session=session, actor=actor, case_id=case_id, involvement_id=involvement_id
    )
    return history_service.list_revisions(
        session=session, actor=actor, entity_type="involvement", entity_id=involvement_id, sealer=ctx.sealer
    )
