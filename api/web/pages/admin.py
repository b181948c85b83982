"""Administration: accounts and their roles (admins only). Local taxonomy nodes join here with the
taxonomy service, and the audit log (who opened which identity, who was denied what) with the audit service."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from sqlmodel import Session

from api.audit import service as audit_service
from api.auth import duress as duress_service
from api.auth import second_factor
from api.auth import service as auth_service
from api.auth import sessions as sessions_service
from api.auth.permissions import Permission
from api.auth.security import Actor
from api.deps import ContextDep, SessionDep
from api.i18n import N_
from api.problems import Conflict, NotFound, ValidationProblem
from api.taxonomy import service as taxonomy_service
from api.web.common import notice
from api.web.forms import FormState, add_problem_errors, add_validation_errors, checkbox, form_values, text
from api.web.labels import ERROR_TYPES
from api.web.routing import WebRoute, redirect
from api.web.session import SessionForm, WebRequire
from api.web.taxonomy import picker_tree
from api.web.templating import render
from schemas.audit import AuditEventRead, AuditQuery
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


@router.post("/admin/users/{user_id}/sessions/end")
def end_sessions(user_id: uuid.UUID, form: SessionForm, session: SessionDep, actor: Admin) -> Response:
    """End every session and token of an account; it takes effect on its next request."""
    sessions_service.end_all_sessions_of(session=session, actor=actor, user_id=user_id)
    session.commit()
    return redirect("/admin/users?notice=sessions_ended_for_user")


@router.post("/admin/users/{user_id}/2fa/reset")
def reset_second_factor(user_id: uuid.UUID, form: SessionForm, session: SessionDep, actor: Admin) -> Response:
    """Reset an account's second factor (audited) once the person's identity is checked."""
    second_factor.reset_second_factor(session=session, actor=actor, user_id=user_id)
    session.commit()
    return redirect("/admin/users?notice=second_factor_reset")


@router.post("/admin/users/{user_id}/duress/lift")
def lift_duress(user_id: uuid.UUID, form: SessionForm, session: SessionDep, actor: Admin) -> Response:
    """Lift a duress alert once the person is safe (audited)."""
    duress_service.lift_duress(session=session, actor=actor, user_id=user_id)
    session.commit()
    return redirect("/admin/users?notice=duress_lifted")


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


# ---- audit log ----------------------------------------------------------------------------------------------

Auditor = Annotated[Actor, Depends(WebRequire(Permission.AUDIT_READ))]

AUDIT_PAGE_SIZE = 100
_AUDIT_FIELDS = ("actor", "action", "target_type", "target_id", "from", "to")
_MOMENT_HELP = N_("Write a day (2026-03-01) or a day and time in UTC (2026-03-01T14:30).")
_PERIOD_ORDER = N_("The end of the period is before its start.")
_STALE_CURSOR = N_("The link to the next page no longer fits these filters. Search again.")
# Filters offered for the action (the API takes any beginning of an action's name).
AUDIT_ACTIONS = (
    ("identity.read", N_("Identities opened")),
    ("evidence.", N_("File metadata or file names opened")),
    ("access.denied", N_("Access denied")),
    ("login.", N_("Sign-ins")),
    ("user.", N_("Account changes")),
    ("export.", N_("Exports")),
)
AUDIT_TARGETS = (
    ("person", N_("Person")),
    ("case", N_("Case")),
    ("evidence", N_("Evidence")),
    ("user", N_("Account")),
    ("export", N_("Export")),
)
# What each recorded action is called on the page (an action not named here is shown by its code).
AUDIT_ACTION_NAMES = {
    "identity.read": N_("Identity opened"),
    "evidence.identifiers.read": N_("File metadata opened (position, serial numbers)"),
    "evidence.filename.read": N_("File name opened"),
    "access.denied": N_("Access denied"),
    "login.succeeded": N_("Signed in"),
    "login.failed": N_("Failed sign-in"),
    "logout": N_("Signed out"),
    "user.created": N_("Account created"),
    "user.updated": N_("Account changed"),
    "user.disabled": N_("Account disabled"),
    "token.created": N_("API token created"),
}
AUDIT_PURPOSES = {
    "show": N_("shown"),
    "update": N_("merged with a change"),
    "history": N_("history of changes"),
    "export": N_("export (redaction)"),
}
_LINKED = {"person": "/people/{}", "case": "/cases/{}"}


@dataclass(frozen=True)
class AuditLine:
    """One event as the page shows it: the account, the action in words, the object(s), a short detail."""

    event: AuditEventRead
    action_name: str | None
    target_name: str | None
    link: str | None
    ids: list[str]
    purpose: str | None
    route: str | None
    other: str | None


def audit_line(event: AuditEventRead) -> AuditLine:
    """How the page shows one event (identity reads by purpose, denials by route, anything else as JSON)."""
    details = event.details
    ids = [str(i) for i in details.get("ids", [])] if isinstance(details.get("ids"), list) else []
    link = _LINKED.get(event.target_type or "")
    route = None
    if event.action == "access.denied":
        route = f"{details.get('status', '')} {details.get('method', '')} {details.get('route', '')}".strip()
    purpose = AUDIT_PURPOSES.get(str(details.get("purpose", "")))
    other = None
    if details and purpose is None and route is None:
        other = json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
    return AuditLine(
        event=event,
        action_name=AUDIT_ACTION_NAMES.get(event.action),
        target_name=dict(AUDIT_TARGETS).get(event.target_type or ""),
        link=link.format(event.target_id) if link and event.target_id else None,
        ids=ids,
        purpose=purpose,
        route=route,
        other=other,
    )


def _audit_query(request: Request) -> tuple[FormState, AuditQuery | None]:
    """The audit filters of the page's query string, or the form with its errors placed."""
    values = {name: (request.query_params.get(name) or "").strip() for name in _AUDIT_FIELDS}
    state = FormState(values=values)
    data: dict[str, Any] = {name: value for name, value in values.items() if value}
    try:
        query = AuditQuery.model_validate(
            data | {"cursor": request.query_params.get("cursor") or None, "limit": AUDIT_PAGE_SIZE}
        )
    except ValidationError as exc:
        add_validation_errors(state, exc, model_field=lambda _message: ("", _PERIOD_ORDER))
        for name in ("from", "to"):
            if name in state.errors:
                state.errors[name] = [_MOMENT_HELP]
        return state, None
    return state, query


@router.get("/admin/audit")
def audit_log(request: Request, ctx: ContextDep, session: SessionDep, actor: Auditor) -> Response:
    """The audit log, newest first, with the API's filters as a plain GET form; CSV of the same."""
    state, query = _audit_query(request)
    page = None
    if query is not None:
        try:
            page = audit_service.list_events(session=session, query=query, secret=ctx.secret)
        except ValidationProblem:
            state.general.append(_STALE_CURSOR)
    kept = [(k, v) for k, v in request.query_params.multi_items() if k in _AUDIT_FIELDS and v]
    next_link = None
    if page is not None and page.next_cursor:
        next_link = "/admin/audit?" + urlencode([*kept, ("cursor", page.next_cursor)])
    return render(
        request,
        "admin/audit.html",
        {
            "form": state,
            "page": page,
            "lines": [audit_line(e) for e in page.items] if page is not None else [],
            "next_link": next_link,
            "csv_link": "/admin/audit.csv" + (f"?{urlencode(kept)}" if kept else ""),
            "first_page": not request.query_params.get("cursor"),
            "accounts": sorted(auth_service.list_users(session=session), key=lambda u: u.username),
            "actions": AUDIT_ACTIONS,
            "targets": AUDIT_TARGETS,
        },
        status_code=422 if state.invalid else 200,
    )


@router.get("/admin/audit.csv")
def audit_log_csv(request: Request, ctx: ContextDep, actor: Auditor) -> Response:
    """Every event the filters match, as CSV (as GET /api/v1/audit?format=csv gives them)."""
    _state, query = _audit_query(request)
    if query is None:
        raise ValidationProblem.single("query", "invalid filters")
    return StreamingResponse(
        audit_service.stream_events_csv(db=ctx.db, query=query, secret=ctx.secret),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="precedent-audit.csv"'},
    )
