"""Denials in the audit log: every 403 (PermissionDenied) and every 404 for a record the caller may not see.

Called where problems become answers: the API's problem handler (api.main) and the pages' (api.web.routing).
A denial is written in a short transaction of its own, so the denied request's rollback does not take it
along. It carries the route template (never the URL, whose query string may hold a searched name), the
method, the status and the ids in the path; never the body. Anonymous requests are answered 401 before
anything is denied, and failed sign-ins have their own events.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.audit import service as audit_service
from api.auth import service as auth_service
from api.auth.security import Actor
from api.context import AppContext
from api.problems import NotFound, PermissionDenied, ProblemError

log = logging.getLogger("precedent.audit")

DENIED = "access.denied"
# Path parameters name what was asked for; the first one in the path is the record whose visibility decides.
_TARGET_TYPES = {
    "case_id": "case",
    "person_id": "person",
    "evidence_id": "evidence",
    "involvement_id": "involvement",
    "testimony_id": "testimony",
    "consent_id": "consent",
    "organisation_id": "organisation",
    "export_id": "export",
    "user_id": "user",
    "draft_id": "draft",
    "code": "taxonomy",
}
# What may be copied from a path into the log: ids and taxonomy codes, nothing a person could have typed.
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def is_denial(exc: ProblemError) -> bool:
    """True for the problems recorded as denials: 403 PermissionDenied and 404 NotFound."""
    return isinstance(exc, PermissionDenied | NotFound)


async def record_denial(request: Request, exc: ProblemError, *, actor: Actor | None = None) -> None:
    """Record a denial of `request` (the actor from a bearer token when not given), in its own transaction."""
    if not is_denial(exc):
        return
    ctx: AppContext = request.app.state.ctx
    await run_in_threadpool(_record, ctx, request, exc.status, actor)


def _record(ctx: AppContext, request: Request, status: int, actor: Actor | None) -> None:
    route = _route_template(request)
    try:
        audit_service.record_apart(
            db=ctx.db,
            actor_id=actor.user_id if actor else _bearer_actor_id(ctx, request),
            action=DENIED,
            **_target(request.path_params),
            details={"route": route, "method": request.method, "status": status, **_ids(request.path_params)},
        )
    except sa.exc.SQLAlchemyError:
        # The answer is a denial either way; the failure to record it must be seen by whoever runs the server.
        log.error("a denial of %s %s could not be recorded in the audit log", request.method, route)


def _bearer_actor_id(ctx: AppContext, request: Request) -> uuid.UUID | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    actor = auth_service.actor_for_token(ctx=ctx, token=token.strip())
    return actor.user_id if actor else None


def _route_template(request: Request) -> str:
    """The matched route's template with the prefix of the router it was included under (`/api/v1`)."""
    template = getattr(request.scope.get("route"), "path", None)
    if not isinstance(template, str) or not template.startswith("/"):
        return "-"
    # The route names its path below the including router's prefix: the URL's leading segments are that
    # prefix (static text: everything after it matched the template).
    parts = request.url.path.split("/")
    prefix = "/".join(parts[: max(1, len(parts) - template.count("/"))])
    return (prefix + template)[:200]


def _target(params: dict[str, Any]) -> dict[str, str | None]:
    for name, value in params.items():
        if name in _TARGET_TYPES:
            text = str(value)
            return {"target_type": _TARGET_TYPES[name], "target_id": text if _ID.match(text) else None}
    return {"target_type": None, "target_id": None}


def _ids(params: dict[str, Any]) -> dict[str, Any]:
    kept = {
        name: str(value) for name, value in params.items() if name in _TARGET_TYPES and _ID.match(str(value))
    }
    return {"params": kept} if len(kept) > 1 else {}
