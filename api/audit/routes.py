"""The audit log, for admins: who read which identity, who was denied what, logins, account changes, exports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from api.audit import service as audit_service
from api.auth.permissions import Permission
from api.auth.security import Actor
from api.deps import ContextDep, Require, SessionDep
from api.problems import problem_responses
from api.routing import SessionRoute
from schemas.audit import AuditEventRead, AuditQuery
from schemas.base import Page

router = APIRouter(route_class=SessionRoute, prefix="/audit", tags=["audit"])

Auditor = Annotated[Actor, Depends(Require(Permission.AUDIT_READ))]


@router.get(
    "",
    response_model=Page[AuditEventRead],
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "JSON or CSV"},
        **problem_responses(401, 403, 422),
    },
)
def list_audit_events(
    query: Annotated[AuditQuery, Query()], session: SessionDep, ctx: ContextDep, actor: Auditor
) -> Page[AuditEventRead] | Response:
    """The audit log, newest first, filtered by actor, action (prefix), object and period; `format=csv` streams
    every matching event. Events carry ids, never names; each identity read names its purpose."""
    if query.format == "csv":
        return StreamingResponse(
            audit_service.stream_events_csv(db=ctx.db, query=query, secret=ctx.secret),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="precedent-audit.csv"'},
        )
    return audit_service.list_events(session=session, query=query, secret=ctx.secret)
