"""Cases: thin routes over api.cases.service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.deps import ContextDep, Require, SessionDep, StatementSessionDep
from api.history import service as history_service
from api.problems import problem_responses
from api.routing import IfMatch, SessionRoute, with_etag
from api.search import service as search_service
from api.search.filters import SearchFilters
from schemas.base import Page
from schemas.case import (
    AssignmentCreate,
    AssignmentRead,
    CaseCreate,
    CaseRead,
    CaseUpdate,
    Retraction,
)
from schemas.history import RevisionRead
from schemas.search import CaseHit, CaseListQuery

router = APIRouter(route_class=SessionRoute, prefix="/cases", tags=["cases"])

CaseReader = Annotated[Actor, Depends(Require(Permission.CASE_READ))]
CaseCreator = Annotated[Actor, Depends(Require(Permission.CASE_CREATE))]
CaseAssigner = Annotated[Actor, Depends(Require(Permission.CASE_ASSIGN))]
HistoryReader = Annotated[Actor, Depends(Require(Permission.CASE_READ, Permission.HISTORY_READ))]


@router.post("", response_model=CaseRead, status_code=201, responses=problem_responses(401, 403, 422))
def create_case(case_in: CaseCreate, session: SessionDep, actor: CaseCreator, response: Response) -> CaseRead:
    """Record a new case (a precedent)."""
    case = cases_service.create_case(session=session, actor=actor, case_in=case_in)
    response.headers["Location"] = f"/api/v1/cases/{case.id}"
    with_etag(response, case.version)
    return case


@router.get("", response_model=Page[CaseHit], responses=problem_responses(401, 403, 422))
def list_cases(
    query: Annotated[CaseListQuery, Query()], session: StatementSessionDep, ctx: ContextDep, actor: CaseReader
) -> Page[CaseHit]:
    """Search the cases you may see: every filter combines with AND; a page at a time, with the total.

    How dates, places, people and words match is described in docs/api.md ("Search and statistics").
    """
    # A statement session: the count and the page are each read as the data stands then (no transaction
    # around them on PostgreSQL); a case written between the two may be counted and not listed, or listed
    # and not counted, as it would be by the next request anyway.
    return search_service.search_cases(
        session=session,
        actor=actor,
        filters=SearchFilters.from_query(query, words=ctx.words),
        sort=query.sort,
        cursor=query.cursor,
        limit=query.limit,
        secret=ctx.secret,
        exact_total=query.exact_total,
        sealer=ctx.sealer,
    )


@router.get("/{case_id}", response_model=CaseRead, responses=problem_responses(401, 403, 404, 422))
def get_case(case_id: uuid.UUID, session: SessionDep, actor: CaseReader, response: Response) -> CaseRead:
    """Return one case (retracted cases too, with the reason)."""
    case = cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    with_etag(response, case.version)
    return cases_service.case_to_read(session=session, case=case)


@router.patch(
    "/{case_id}", response_model=CaseRead, responses=problem_responses(401, 403, 404, 409, 412, 422, 428)
)
def update_case(
    case_id: uuid.UUID,
    case_in: CaseUpdate,
    session: SessionDep,
    actor: CaseReader,
    response: Response,
    if_match: IfMatch = None,
) -> CaseRead:
    """Change a case; send the ETag you read as If-Match."""
    case = cases_service.update_case(
        session=session, actor=actor, case_id=case_id, case_in=case_in, if_match=if_match
    )
    with_etag(response, case.version)
    return case


@router.post(
    "/{case_id}/retract",
    response_model=CaseRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
def retract_case(
    case_id: uuid.UUID,
    retraction: Retraction,
    session: SessionDep,
    actor: CaseReader,
    response: Response,
    if_match: IfMatch = None,
) -> CaseRead:
    """Retract a case with a reason: it leaves every list and stays in its history."""
    case = cases_service.retract_case(
        session=session, actor=actor, case_id=case_id, reason=retraction.reason, if_match=if_match
    )
    with_etag(response, case.version)
    return case


@router.get(
    "/{case_id}/history", response_model=list[RevisionRead], responses=problem_responses(401, 403, 404, 422)
)
def case_history(
    case_id: uuid.UUID, session: SessionDep, ctx: ContextDep, actor: HistoryReader
) -> list[RevisionRead]:
    """Every change to the case and to its involvements and testimonies, oldest first."""
    cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    return history_service.list_case_revisions(
        session=session, actor=actor, case_id=case_id, sealer=ctx.sealer
    )


@router.post(
    "/{case_id}/assignments",
    response_model=AssignmentRead,
    status_code=201,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def assign_user(
    case_id: uuid.UUID, assignment: AssignmentCreate, session: SessionDep, actor: CaseAssigner
) -> AssignmentRead:
    """Assign a documenter to the case so they may see and edit it."""
    return cases_service.assign_user(
        session=session, actor=actor, case_id=case_id, user_id=assignment.user_id
    )
