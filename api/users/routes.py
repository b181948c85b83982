"""Account administration (admins only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from api.auth import service as auth_service
from api.auth.permissions import Permission
from api.auth.security import Actor
from api.deps import Require, SessionDep
from api.problems import problem_responses
from api.routing import SessionRoute
from schemas.auth import UserCreate, UserCreated, UserRead, UserUpdate

router = APIRouter(route_class=SessionRoute, prefix="/users", tags=["users"])

Admin = Annotated[Actor, Depends(Require(Permission.USER_MANAGE))]


@router.get("", response_model=list[UserRead], responses=problem_responses(401, 403))
def list_users(session: SessionDep, actor: Admin) -> list[UserRead]:
    """List every account."""
    return [UserRead.model_validate(u) for u in auth_service.list_users(session=session)]


@router.post("", response_model=UserCreated, status_code=201, responses=problem_responses(401, 403, 409, 422))
def create_user(user_in: UserCreate, session: SessionDep, actor: Admin) -> UserCreated:
    """Create an account; a generated password is returned once when none is given."""
    user, password = auth_service.create_user(
        session=session,
        username=user_in.username,
        role=user_in.role,
        password=user_in.password,
        actor_id=actor.user_id,
    )
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
