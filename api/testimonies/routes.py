"""Testimonies recorded in a case."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.deps import ContextDep, Require, SessionDep
from api.history import service as history_service
from api.problems import problem_responses
from api.routing import IfMatch, SessionRoute, with_etag
from api.testimonies import service as testimonies_service
from schemas.history import RevisionRead
from schemas.involvement import RetractionIn
from schemas.testimony import TestimonyCreate, TestimonyRead, TestimonyUpdate

router = APIRouter(route_class=SessionRoute, prefix="/cases/{case_id}/testimonies", tags=["testimonies"])

Reader = Annotated[Actor, Depends(Require(Permission.CASE_READ, Permission.TESTIMONY_READ))]
Writer = Annotated[Actor, Depends(Require(Permission.TESTIMONY_WRITE))]
HistoryReader = Annotated[Actor, Depends(Require(Permission.CASE_READ, Permission.HISTORY_READ))]
_EDIT_PROBLEMS = problem_responses(401, 403, 404, 409, 412, 422, 428)


@router.post(
    "", response_model=TestimonyRead, status_code=201, responses=problem_responses(401, 403, 404, 409, 422)
)
def create_testimony(
    case_id: uuid.UUID,
    testimony_in: TestimonyCreate,
    session: SessionDep,
    ctx: ContextDep,
    actor: Writer,
    response: Response,
) -> TestimonyRead:
    """Record a testimony given by a person you can see."""
    row = testimonies_service.create_testimony(
        session=session,
        actor=actor,
        sealer=ctx.sealer,
        words=ctx.words,
        case_id=case_id,
        testimony_in=testimony_in,
    )
    with_etag(response, row.version)
    return row


@router.get("", response_model=list[TestimonyRead], responses=problem_responses(401, 403, 404, 422))
def list_testimonies(
    case_id: uuid.UUID, session: SessionDep, ctx: ContextDep, actor: Reader
) -> list[TestimonyRead]:
    """List the testimonies of the case, in the order they were taken (the words for roles that may read
    identities; for others a version cleared of names, or none)."""
    return testimonies_service.list_testimonies(
        session=session, actor=actor, sealer=ctx.sealer, case_id=case_id
    )


@router.get("/{testimony_id}", response_model=TestimonyRead, responses=problem_responses(401, 403, 404, 422))
def get_testimony(
    case_id: uuid.UUID,
    testimony_id: uuid.UUID,
    session: SessionDep,
    ctx: ContextDep,
    actor: Reader,
    response: Response,
) -> TestimonyRead:
    """Return one testimony."""
    row = testimonies_service.get_testimony(
        session=session, actor=actor, sealer=ctx.sealer, case_id=case_id, testimony_id=testimony_id
    )
    with_etag(response, row.version)
    return row


@router.patch("/{testimony_id}", response_model=TestimonyRead, responses=_EDIT_PROBLEMS)
def update_testimony(
    case_id: uuid.UUID,
    testimony_id: uuid.UUID,
    testimony_in: TestimonyUpdate,
    session: SessionDep,
    ctx: ContextDep,
    actor: Writer,
    response: Response,
    if_match: IfMatch = None,
) -> TestimonyRead:
    """Change a testimony; send the ETag you read as If-Match."""
    row = testimonies_service.update_testimony(
        session=session,
        actor=actor,
        sealer=ctx.sealer,
        words=ctx.words,
        case_id=case_id,
        testimony_id=testimony_id,
        testimony_in=testimony_in,
        if_match=if_match,
    )
    with_etag(response, row.version)
    return row


@router.post("/{testimony_id}/retract", response_model=TestimonyRead, responses=_EDIT_PROBLEMS)
def retract_testimony(
    case_id: uuid.UUID,
    testimony_id: uuid.UUID,
    retraction: RetractionIn,
    session: SessionDep,
    ctx: ContextDep,
    actor: Writer,
    response: Response,
    if_match: IfMatch = None,
) -> TestimonyRead:
    """Retract a testimony with a reason."""
    row = testimonies_service.retract_testimony(
        session=session,
        actor=actor,
        sealer=ctx.sealer,
        case_id=case_id,
        testimony_id=testimony_id,
        reason=retraction.reason,
        if_match=if_match,
    )
    with_etag(response, row.version)
    return row


@router.get(
    "/{testimony_id}/history",
    response_model=list[RevisionRead],
    responses=problem_responses(401, 403, 404, 422),
)
def testimony_history(
    case_id: uuid.UUID, testimony_id: uuid.UUID, session: SessionDep, ctx: ContextDep, actor: HistoryReader
) -> list[RevisionRead]:
    """Every change to this testimony, oldest first."""
    testimonies_service.get_testimony(
        session=session, actor=actor, sealer=ctx.sealer, case_id=case_id, testimony_id=testimony_id
    )
    return history_service.list_revisions(
        session=session, actor=actor, entity_type="testimony", entity_id=testimony_id, sealer=ctx.sealer
    )
