"""Cleared free text for outside audiences: propose, list, read, correct, approve, and the history of each."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.clearing import service as clearing_service
from api.deps import ContextDep, Require, SessionDep
from api.problems import problem_responses
from api.routing import IfMatch, SessionRoute, with_etag
from schemas.clearing import ClearingCreate, ClearingListQuery, ClearingRead, ClearingUpdate
from schemas.history import RevisionRead

router = APIRouter(route_class=SessionRoute, tags=["clearing"])

Clearer = Annotated[Actor, Depends(Require(Permission.CASE_READ, Permission.TEXT_CLEAR))]
# Reading also needs text:clear or person:read_identity: the service says which.
Reader = Annotated[Actor, Depends(Require(Permission.CASE_READ))]
HistoryReader = Annotated[Actor, Depends(Require(Permission.CASE_READ, Permission.HISTORY_READ))]
_READ_PROBLEMS = problem_responses(401, 403, 404, 422)
_CHANGE_PROBLEMS = problem_responses(401, 403, 404, 409, 412, 422, 428)


@router.post(
    "/cases/{case_id}/clearings",
    response_model=list[ClearingRead],
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
def propose_clearings(
    case_id: uuid.UUID, body: ClearingCreate, session: SessionDep, ctx: ContextDep, actor: Clearer
) -> list[ClearingRead]:
    """Propose, for the audience, a cleared version of every free text of the case that has none current.

    Every form of the name of every recorded person (not only those in the case) is replaced by their
    pseudonym. Returns the clearings proposed now (none when every text has a current one).
    """
    proposed = clearing_service.propose_clearings(
        session=session, actor=actor, sealer=ctx.sealer, case_id=case_id, audience=body.audience
    )
    return proposed


@router.get("/cases/{case_id}/clearings", response_model=list[ClearingRead], responses=_READ_PROBLEMS)
def list_clearings(
    case_id: uuid.UUID,
    query: Annotated[ClearingListQuery, Query()],
    session: SessionDep,
    ctx: ContextDep,
    actor: Reader,
) -> list[ClearingRead]:
    """The case's clearings, each with its status and whether its source changed since (stale)."""
    return clearing_service.list_clearings(
        session=session, sealer=ctx.sealer, actor=actor, case_id=case_id, audience=query.audience
    )


@router.get("/clearings/{clearing_id}", response_model=ClearingRead, responses=_READ_PROBLEMS)
def get_clearing(
    clearing_id: uuid.UUID, session: SessionDep, ctx: ContextDep, actor: Reader, response: Response
) -> ClearingRead:
    """One clearing; with the replaced spans (offsets into the source) for roles that may read identities."""
    row = clearing_service.get_clearing(
        session=session, sealer=ctx.sealer, actor=actor, clearing_id=clearing_id
    )
    with_etag(response, row.version)
    return row


@router.patch("/clearings/{clearing_id}", response_model=ClearingRead, responses=_CHANGE_PROBLEMS)
def edit_clearing(
    clearing_id: uuid.UUID,
    body: ClearingUpdate,
    session: SessionDep,
    ctx: ContextDep,
    actor: Clearer,
    response: Response,
    if_match: IfMatch = None,
) -> ClearingRead:
    """Correct the cleared text (it goes back to `proposed`); send the ETag you read as If-Match."""
    row = clearing_service.edit_clearing(
        session=session,
        sealer=ctx.sealer,
        actor=actor,
        clearing_id=clearing_id,
        update=body,
        if_match=if_match,
    )
    with_etag(response, row.version)
    return row


@router.post("/clearings/{clearing_id}/approve", response_model=ClearingRead, responses=_CHANGE_PROBLEMS)
def approve_clearing(
    clearing_id: uuid.UUID,
    session: SessionDep,
    ctx: ContextDep,
    actor: Clearer,
    response: Response,
    if_match: IfMatch = None,
) -> ClearingRead:
    """Approve the cleared text for its audience; send the ETag you read as If-Match."""
    row = clearing_service.approve_clearing(
        session=session, sealer=ctx.sealer, actor=actor, clearing_id=clearing_id, if_match=if_match
    )
    with_etag(response, row.version)
    return row


@router.get("/clearings/{clearing_id}/history", response_model=list[RevisionRead], responses=_READ_PROBLEMS)
def clearing_history(
    clearing_id: uuid.UUID, session: SessionDep, ctx: ContextDep, actor: HistoryReader
) -> list[RevisionRead]:
    """Who proposed, corrected and approved the clearing, and when, oldest first."""
    return clearing_service.history(session=session, actor=actor, sealer=ctx.sealer, clearing_id=clearing_id)
