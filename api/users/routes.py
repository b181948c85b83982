"""Account administration (admins only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.auth import duress as duress_service
from api.auth import second_factor
from api.auth import service as auth_service
from api.auth import sessions as sessions_service
from api.auth.permissions import Permission
from api.auth.routes import localised
from api.auth.security import Actor
from api.deps import Require, SessionDep
from api.problems import ValidationProblem, problem_responses
from api.routing import SessionRoute
from schemas.auth import SessionsEnded, UserCreate, UserCreated, UserRead, UserUpdate

router = APIRouter(route_class=SessionRoute, prefix="/users", tags=["users"])

Admin = Annotated[Actor, Depends(Require(Permission.USER_MANAGE))]


@router.get("", response_model=list[UserRead], responses=problem_responses(401, 403))
def list_users(session: SessionDep, actor: Admin) -> list[UserRead]:
    """List every account."""
    return [UserRead.model_validate(u) for u in auth_service.list_users(session=session)]


@router.post("", response_model=UserCreated, status_code=201, responses=problem_responses(401, 403, 409, 422))
def create_user(request: Request, user_in: UserCreate, session: SessionDep, actor: Admin) -> UserCreated:
    """Create an account; a generated password is returned once when none is given."""
    try:
        user, password = auth_service.create_user(
            session=session,
            username=user_in.username,
            role=user_in.role,
            password=user_in.password,
            actor_id=actor.user_id,
        )
    except ValidationProblem as problem:
        raise localised(request, problem) from None
    return UserCreated.model_validate(user).model_copy(
        update={"password": None if user_in.password else password}
    )


@router.patch("/{user_id}", response_model=UserRead, responses=problem_responses(401, 403, 404, 409, 422))
def update_user(user_id: uuid.UUID, user_in: UserUpdate, session: SessionDep, actor: Admin) -> UserRead:
    """Change an account's role, or disable it (its tokens stop working at once)."""
    user = auth_service.update_user(
        session=session, actor_id=actor.user_id, user_id=user_id, role=user_in.role, disabled=user_in.disabled
    )
    return UserRead.model_validate(user)


@router.delete(
    "/{user_id}/sessions", response_model=SessionsEnded, responses=problem_responses(401, 403, 404, 422)
)
def end_sessions(user_id: uuid.UUID, session: SessionDep, actor: Admin) -> SessionsEnded:
    """End every session and token of an account at once (from its next request on)."""
    ended = sessions_service.end_all_sessions_of(session=session, actor=actor, user_id=user_id)
    session.commit()
    return SessionsEnded(ended=ended)


@router.delete("/{user_id}/2fa", response_model=UserRead, responses=problem_responses(401, 403, 404, 422))
def reset_second_factor(user_id: uuid.UUID, session: SessionDep, actor: Admin) -> UserRead:
    """Reset an account's second factor (audited), after checking who asks: they must enrol again."""
    user = second_factor.reset_second_factor(session=session, actor=actor, user_id=user_id)
    session.commit()
    return UserRead.model_validate(user)


@router.delete(
    "/{user_id}/duress", response_model=UserRead, responses=problem_responses(401, 403, 404, 409, 422)
)
def lift_duress(user_id: uuid.UUID, session: SessionDep, actor: Admin) -> UserRead:
    """Lift an account's duress once the person is safe (audited); sessions it ended stay ended."""
    user = duress_service.lift_duress(session=session, actor=actor, user_id=user_id)
    session.commit()
    return UserRead.model_validate(user)
