"""Statistics: thin routes over api.search.service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.deps import ContextDep, Require, SessionDep
from api.problems import problem_responses
from api.routing import SessionRoute
from api.search import service as search_service
from api.search.filters import SearchFilters
from schemas.search import StatsQuery, StatsRead

router = APIRouter(route_class=SessionRoute, prefix="/stats", tags=["statistics"])

StatsReader = Annotated[Actor, Depends(Require(Permission.CASE_READ, Permission.STATS_READ))]


@router.get(
    "",
    response_model=StatsRead,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "JSON or CSV"},
        **problem_responses(401, 403, 422),
    },
)
def case_stats(
    query: Annotated[StatsQuery, Query()],
    session: SessionDep,
    ctx: ContextDep,
    actor: StatsReader,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> StatsRead | Response:
    """Count the cases you may see, and their victims, per category, year, month, place, employer or status."""
    stats = search_service.case_stats(
        session=session,
        actor=actor,
        filters=SearchFilters.from_query(query, words=ctx.words),
        group_by=query.group_by,
        side=ctx.db.side_engine,
    )
    wants_csv = query.format == "csv" or (query.format is None and "text/csv" in (accept or ""))
    if wants_csv:
        return Response(
            search_service.stats_csv(stats),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="precedent-stats-{query.group_by}.csv"'},
        )
    return stats
