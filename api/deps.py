"""Dependency vocabulary for routes: sessions, the authenticated actor, permission guards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from api.auth import service as auth_service
from api.auth.permissions import Permission
from api.auth.security import Actor
from api.context import AppContext
from api.problems import AuthenticationRequired, PermissionDenied

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_ctx(request: Request) -> AppContext:
    # A coroutine: it does no I/O, and a plain function would cost a hop through the threadpool.
    ctx: AppContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[AppContext, Depends(get_ctx)]


async def get_session(request: Request, ctx: ContextDep) -> AsyncIterator[Session]:
    """Yield a session for the request; services commit explicitly, anything uncommitted is rolled back.

    A coroutine: opening a session does no I/O (it connects at its first statement). A plain endpoint's route
    (api.routing.SessionRoute) has already closed it, so closing again does no I/O either. A session still in
    a transaction is rolled back in a worker thread outside the shared threadpool's limit (as FastAPI closes
    its own): requests holding every worker while they wait for a pooled connection would otherwise wait for
    the very closings that return connections to the pool.
    """
    session = ctx.db.session(write=request.method not in SAFE_METHODS)
    try:
        yield session
    finally:
        if session.in_transaction():
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_close, session, limiter=anyio.CapacityLimiter(1))
        else:
            session.close()


async def get_statement_session(ctx: ContextDep) -> AsyncIterator[Session]:
    """A read session whose statements each see the data as it is then (api.db.Database.statement_session).

    On PostgreSQL closing it does no I/O (nothing is left to roll back); on SQLite it holds a read transaction,
    which api.routing.SessionRoute has already closed in the endpoint's worker thread."""
    session = ctx.db.statement_session()
    try:
        yield session
    finally:
        session.close()


def _close(session: Session) -> None:
    session.rollback()
    session.close()


SessionDep = Annotated[Session, Depends(get_session)]
StatementSessionDep = Annotated[Session, Depends(get_statement_session)]


def get_current_actor(
    ctx: ContextDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Actor:
    """Authenticate the bearer token, or answer 401."""
    if not token:
        raise AuthenticationRequired(
            "Send a bearer token: POST /api/v1/auth/token with your username and password."
        )
    actor = auth_service.actor_for_token(ctx=ctx, token=token)
    if actor is None:
        raise AuthenticationRequired("The token is unknown, expired or revoked, or the account is disabled.")
    return actor


CurrentActor = Annotated[Actor, Depends(get_current_actor)]


class Require:
    """Guard: the actor must hold every listed permission, else 403."""

    def __init__(self, *permissions: Permission) -> None:
        self.permissions = permissions

    async def __call__(self, actor: CurrentActor) -> Actor:  # no I/O: no threadpool hop
        missing = [p.value for p in self.permissions if not actor.can(p)]
        if missing:
            raise PermissionDenied(f"Your role ({actor.role.value}) lacks {', '.join(missing)}.")
        return actor
