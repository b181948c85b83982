"""Administration: accounts and their roles (admins only). Local taxonomy nodes join here with the
taxonomy service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from api.auth import service as auth_service
from api.auth.permissions import Permission
from api.auth.security import Actor
from api.deps import SessionDep
from api.problems import Conflict, NotFound, ValidationProblem
from api.taxonomy import service as taxonomy_service
from api.web.common import notice
from api.web.forms import FormState, add_problem_errors, add_validation_errors, checkbox, form_values, text
from api.web.i18n import N_
from api.web.labels import ERROR_TYPES
from api.web.routing import WebRoute, redirect
from api.web.session import SessionForm, WebRequire
from api.web.taxonomy import picker_tree
from api.web.templating import render
from schemas.auth import UserCreate, UserUpdate
from schemas.taxonomy_api import LocalNodeCreate

router = APIRouter(route_class=WebRoute)

Admin = Annotated[Actor, Depends(WebRequire(Permission.USER_MANAGE))]

_EXISTS = N_("An account with this username already exists.")
_SELF = N_("You cannot disable yourself or take away your own administrator role.")


def _users_page(
    request: Request,
    *,
    session: Session,
    state: FormState,
    status_code: int = 200,
    update_errors: list[str] | None = None,
    created: tuple[str, str] | None = None,
) -> Response:
    return render(
        request,
        "admin/users.html",
        {
            "users": auth_service.list_users(session=session),
            "form": state,
            "update_errors": update_errors or [],
            "created_username": created[0] if created else None,
            "created_password": created[1] if created else None,
            "notice": notice(request.query_params.get("notice")),
        },
        status_code=status_code,
    )


@router.get("/admin/users")
def users(request: Request, session: SessionDep, actor: Admin) -> Response:
    """Every account, with a form to change its role or disable it, and one to create an account."""
    return _users_page(request, session=session, state=FormState(values={"role": "documenter"}))


@router.post("/admin/users")
def create_user(request: Request, form: SessionForm, session: SessionDep, actor: Admin) -> Response:
    """Create an account; a generated password is shown once."""
    values = form_values(form)
    state = FormState(values={"username": values.get("username", ""), "role": values.get("role", "")})
    data = {
        name: value for name in ("username", "role", "password") if (value := text(values, name)) is not None
    }
    try:
        user_in = UserCreate.model_validate(data)
        user, password = auth_service.create_user(
            session=session,
            username=user_in.username,
            role=user_in.role,
            password=user_in.password,
            actor_id=actor.user_id,
        )
    except ValidationError as exc:
        add_validation_errors(state, exc)
    except ValidationProblem as problem:
        session.rollback()
        add_problem_errors(state, problem)
    except Conflict:
        session.rollback()
        state.add("username", _EXISTS)
    else:
        if user_in.password:
            return redirect("/admin/users?notice=user_created")
        # The generated password is shown in this response only: never in a URL, never stored in clear.
        return _users_page(
            request,
            session=session,
            state=FormState(values={"role": "documenter"}),
            created=(user.username, password),
        )
    return _users_page(request, session=session, state=state, status_code=422)


@router.post("/admin/users/{user_id}")
def update_user(
    user_id: uuid.UUID, request: Request, form: SessionForm, session: SessionDep, actor: Admin
) -> Response:
    """Change an account's role or disable it; its sessions stop working at once."""
    values = form_values(form)
    try:
        update = UserUpdate.model_validate(
            {"role": text(values, "role"), "disabled": checkbox(values, "disabled")}
        )
        auth_service.update_user(
            session=session,
            actor_id=actor.user_id,
            user_id=user_id,
            role=update.role,
            disabled=update.disabled,
        )
    except ValidationError:
        errors = [N_("Choose one of the options.")]
    except Conflict:
        session.rollback()
        errors = [_SELF]
    else:
        return redirect("/admin/users?notice=user_updated")
    return _users_page(
        request,
        session=session,
        state=FormState(values={"role": "documenter"}),
        update_errors=errors,
        status_code=422,
    )


# ---- local taxonomy nodes -----------------------------------------------------------------------------------

TaxonomyManager = Annotated[Actor, Depends(WebRequire(Permission.TAXONOMY_MANAGE))]

_CHOOSE_PARENT = N_("Choose where the new category goes.")
_NODE_EXISTS = N_("A category with this code already exists: choose another short name.")
_LANGS = ("en", "be", "ru")


def _taxonomy_page(
    request: Request, *, session: Session, actor: Actor, state: FormState, status_code: int = 200
) -> Response:
    snap = taxonomy_service.snapshot(session)
    local = sorted((n for n in snap.nodes.values() if n.local), key=lambda n: n.path)
    return render(
        request,
        "admin/taxonomy.html",
        {
            "form": state,
            "local_nodes": local,
            "taxonomy_tree": picker_tree(session=session, actor=actor),
            "notice": notice(request.query_params.get("notice")),
        },
        status_code=status_code,
    )


@router.get("/admin/taxonomy")
def local_taxonomy(request: Request, session: SessionDep, actor: TaxonomyManager) -> Response:
    """The organisation's own categories, and a form to add one under any category."""
    return _taxonomy_page(request, session=session, actor=actor, state=FormState())


def _place_node_errors(state: FormState, exc: ValidationError) -> None:
    """Put the schema's errors on the form's fields: a language rule names its language in the message."""
    for err in exc.errors():
        parts = [str(p) for p in err.get("loc", ())]
        message = str(err.get("msg", "")).removeprefix("Value error, ")
        name = ".".join(parts)
        if parts and parts[0] in ("labels", "definition") and len(parts) == 1:
            lang = message[:2]
            name = f"{parts[0]}.{lang}" if lang in _LANGS and message[2:8] == " text " else f"{parts[0]}.en"
        state.add(name or "slug", ERROR_TYPES.get(str(err.get("type")), message))


@router.post("/admin/taxonomy")
def add_local_node(
    request: Request, form: SessionForm, session: SessionDep, actor: TaxonomyManager
) -> Response:
    """Add a local category `<parent>.x-<slug>` (shipped categories stay as they are)."""
    values = form_values(form)
    state = FormState(values=values)
    parent = text(values, "parent")
    if parent is None:
        state.add("parent", _CHOOSE_PARENT)
    data = {
        "slug": (text(values, "slug") or "").lower(),  # the code is lower case; typing it so is not required
        "labels": {lang: text(values, f"labels.{lang}") or "" for lang in _LANGS},
        "definition": {
            lang: value for lang in _LANGS if (value := text(values, f"definition.{lang}")) is not None
        },
    }
    node_in = None
    try:
        node_in = LocalNodeCreate.model_validate(data)
    except ValidationError as exc:
        _place_node_errors(state, exc)
    if node_in is not None and parent is not None and not state.invalid:
        try:
            detail = taxonomy_service.add_local_node(
                session=session, actor=actor, parent_code=parent, node_in=node_in
            )
        except NotFound:
            session.rollback()
            state.add("parent", _CHOOSE_PARENT)
        except Conflict:
            session.rollback()
            state.add("slug", _NODE_EXISTS)
        except ValidationProblem as problem:
            session.rollback()
            add_problem_errors(state, problem)
        else:
            return redirect(f"/admin/taxonomy?notice=local_node_added#node-{detail.node.code}")
    return _taxonomy_page(request, session=session, actor=actor, state=state, status_code=422)
