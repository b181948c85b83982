"""Log in with the OAuth2 password form, log out, and see who you are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.auth import service as auth_service
from api.deps import ContextDep, CurrentActor, SessionDep
from api.problems import problem_responses
from api.routing import SessionRoute
from schemas.auth import MeRead, TokenRead

router = APIRouter(route_class=SessionRoute, prefix="/auth", tags=["auth"])


def client_address(request: Request, trust_proxy: bool) -> str:
    """The caller's address; X-Forwarded-For only when a trusted proxy sets it."""
    if trust_proxy:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


@router.post("/token", response_model=TokenRead, responses=problem_responses(401, 422, 429))
def log_in(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    ctx: ContextDep,
    session: SessionDep,
) -> TokenRead:
    """Exchange username and password for a bearer token (OAuth2 password flow; used by the Authorize button)."""
    token, row = auth_service.log_in(
        ctx=ctx,
        session=session,
        username=form.username,
        password=form.password,
        client=client_address(request, ctx.settings.trust_proxy_headers),
    )
    return TokenRead(access_token=token, expires_at=row.expires_at)


@router.post("/logout", status_code=204, responses=problem_responses(401))
def log_out(actor: CurrentActor, session: SessionDep) -> None:
    """Revoke the token used for this request."""
    auth_service.revoke_token(session=session, actor=actor)


@router.get("/me", response_model=MeRead, responses=problem_responses(401))
def who_am_i(actor: CurrentActor) -> MeRead:
    """Return the caller's account and permissions."""
    return MeRead(
        id=actor.user_id,
        username=actor.username,
        role=actor.role,
        permissions=sorted(p.value for p in actor.permissions),
    )
