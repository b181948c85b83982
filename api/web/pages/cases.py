"""Case pages: the list with its filters, intake (case, people in it, testimonies), the record, editing,
retraction, the history of changes and the printable sheet. Every read and write goes through the same
services as the API, so the same visibility rules apply.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from api.auth import service as auth_service
from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.context import AppContext
from api.deps import ContextDep, SessionDep
from api.history import service as history_service
from api.i18n import N_
from api.involvements import service as involvements_service
from api.people import service as people_service
from api.problems import Conflict, PreconditionFailed, ValidationProblem
from api.testimonies import service as testimonies_service
from api.web import service as web_service
from api.web.collation import sort_key
from api.web.common import form_uuid, notice, today
from api.web.forms import (
    FormInvalid,
    FormState,
    add_problem_errors,
    add_validation_errors,
    checkbox,
    code_list,
    event_date,
    form_values,
    long_text,
    text,
    word_list,
)
from api.web.labels import ERROR_TYPES
from api.web.pages.evidence import case_evidence, custody_actors
from api.web.routing import WebRoute, redirect
from api.web.session import SessionForm, WebRequire
from api.web.taxonomy import case_categories, picker_tree
from api.web.templating import render, typed_date
from schemas.base import Schema, Tag
from schemas.case import CaseCreate, CaseRead, CaseUpdate, CategoryCode, Country, Retraction
from schemas.enums import CaseStatus, DatePrecision, InvolvementRole, Role
from schemas.involvement import InvolvementCreate
from schemas.person import PersonCreate
from schemas.testimony import TestimonyCreate

router = APIRouter(route_class=WebRoute)

Reader = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ))]
Creator = Annotated[Actor, Depends(WebRequire(Permission.CASE_CREATE))]
Editor = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ, Permission.CASE_UPDATE))]
Retractor = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ, Permission.CASE_RETRACT))]
Assigner = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ, Permission.CASE_ASSIGN))]
HistoryReader = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ, Permission.HISTORY_READ))]
InvolvementWriter = Annotated[Actor, Depends(WebRequire(Permission.INVOLVEMENT_WRITE))]
TestimonyWriter = Annotated[Actor, Depends(WebRequire(Permission.TESTIMONY_WRITE))]

PAGE_SIZE = 25
# Lists offered in a select: enough for one organisation's records; the list page searches beyond that.
CHOICE_LIMIT = 200
_CASE_LINES = (
    "title",
    "occurred_from",
    "occurred_to",
    "date_precision",
    "country",
    "region",
    "place",
    "employer",
    "sector",
    "status",
    "confidentiality",
    "language",
    "primary_category",
    "urgency_reason",
)
_STALE = N_(
    "Someone else changed this record while you were editing it. Your version is below; check the record "
    "page for their change. Sending this form again saves your version over theirs."
)
_CHOOSE_SOURCE = N_("Choose the person who gave the testimony, or give a pseudonym for a new person.")
_CHOOSE_USER = N_("Choose an active account that is not a researcher's.")
_ALREADY_ASSIGNED = N_("This account already works on this case.")
_CHOOSE_ACTOR = N_("Choose a person or an organisation, or give a pseudonym for a new person.")


# ---- form <-> schema ---------------------------------------------------------------------------------------


def case_input(values: dict[str, Any]) -> CaseCreate:
    """Validate the case form with the API's schema; errors land on their fields."""
    data: dict[str, Any] = {}
    for name in _CASE_LINES:
        value = event_date(values, name) if name in ("occurred_from", "occurred_to") else text(values, name)
        if value is not None:
            data[name] = value
    data |= {
        "summary": long_text(values, "summary"),
        "narrative": long_text(values, "narrative"),
        "urgent": checkbox(values, "urgent"),
        "tags": word_list(values, "tags"),
        "categories": code_list(values, "categories"),
    }
    try:
        return CaseCreate.model_validate(data)
    except ValidationError as exc:
        raise FormInvalid(add_validation_errors(FormState(values=values), exc)) from None


def case_values(case: CaseRead) -> dict[str, Any]:
    """The form values of a recorded case, written as a person would type them."""
    precision = case.date_precision.value
    return {
        "title": case.title,
        "summary": case.summary,
        "narrative": case.narrative,
        "occurred_from": typed_date(case.occurred_from, precision),
        "occurred_to": typed_date(case.occurred_to, precision),
        # Day, month and year precision follow from how the date is written; only "approximate" is chosen.
        "date_precision": "approximate" if case.date_precision is DatePrecision.APPROXIMATE else "",
        "country": case.country,
        "region": case.region or "",
        "place": case.place or "",
        "employer": case.employer or "",
        "sector": case.sector or "",
        "status": case.status.value,
        "confidentiality": case.confidentiality.value,
        "urgent": "on" if case.urgent else "",
        "urgency_reason": case.urgency_reason or "",
        "language": case.language or "",
        "tags": ", ".join(case.tags),
        "categories": list(case.categories),
        "primary_category": case.primary_category or "",
    }


def _new_person(values: dict[str, Any], state: FormState) -> PersonCreate | None:
    """A person typed into an intake form (pseudonym, optionally a name); None when none was typed."""
    pseudonym = text(values, "new_pseudonym")
    full_name = text(values, "new_full_name")
    if pseudonym is None and full_name is None:
        return None
    data: dict[str, Any] = {"pseudonym": pseudonym or ""}
    if full_name is not None:
        data["identity"] = {"full_name": full_name}
    try:
        return PersonCreate.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            state.add("new_full_name" if "identity" in loc else "new_pseudonym", str(err.get("msg", "")))
        return None


def _draft_values(
    *, session: Session, actor: Actor, ctx: AppContext, draft_id: uuid.UUID | None, form: str
) -> dict[str, Any] | None:
    if draft_id is None:
        return None
    draft = web_service.get_draft(session=session, actor=actor, sealer=ctx.sealer, draft_id=draft_id)
    return draft.data if draft.form == form else None


def _keep_draft(
    *,
    session: Session,
    actor: Actor,
    ctx: AppContext,
    form: str,
    values: dict[str, Any],
    draft_field: Any,
    case_id: uuid.UUID | None,
    page: str,
) -> Response:
    """Save the form's values as a draft on the server and go back to `page` with it (nothing is lost)."""
    draft_id = web_service.save_draft(
        session=session,
        actor=actor,
        sealer=ctx.sealer,
        form=form,
        data=values,
        case_id=case_id,
        draft_id=form_uuid(draft_field),
    )
    return redirect(f"{page}?draft={draft_id}&notice=draft_saved")


def _finish_draft(session: Session, actor: Actor, draft_field: Any) -> None:
    draft_id = form_uuid(draft_field)
    if draft_id is not None:
        web_service.discard_draft(session=session, actor=actor, draft_id=draft_id)


def _people_choices(*, session: Session, actor: Actor, ctx: AppContext) -> list[tuple[str, str]]:
    """Visible people by pseudonym only (no identity is opened for a select), in reading order."""
    page = people_service.list_people(
        session=session,
        actor=actor,
        sealer=ctx.sealer,
        cursor=None,
        limit=CHOICE_LIMIT,
        secret=ctx.secret,
        q=None,
        with_identity=False,
    )
    return sorted(((str(p.id), p.pseudonym) for p in page.items), key=lambda pair: sort_key(pair[1]))


def _organisation_choices(*, session: Session, actor: Actor, ctx: AppContext) -> list[tuple[str, str]]:
    page = people_service.list_organisations(
        session=session, actor=actor, cursor=None, limit=CHOICE_LIMIT, secret=ctx.secret, q=None
    )
    return sorted(((str(o.id), o.name) for o in page.items), key=lambda pair: sort_key(pair[1]))


# ---- list --------------------------------------------------------------------------------------------------


class CaseFilters(Schema):
    """The list filters of the case API, as a search form sends them."""

    status: CaseStatus | None = None
    country: Country | None = None
    category: CategoryCode | None = None
    tag: Tag | None = None
    mine: bool = False


@router.get("/cases")
def case_list(request: Request, ctx: ContextDep, session: SessionDep, actor: Reader) -> Response:
    """Cases the user may see, newest first, filtered like GET /api/v1/cases."""
    params = request.query_params
    values = {k: params.get(k, "") for k in ("status", "country", "category", "tag", "mine")}
    state = FormState(values=values)
    given = {k: v.strip() for k, v in values.items() if k != "mine" and v.strip()}
    page = None
    try:
        filters = CaseFilters.model_validate({**given, "mine": values["mine"] == "on"})
    except ValidationError as exc:
        add_validation_errors(state, exc)
    else:
        try:
            page = cases_service.list_cases(
                session=session,
                actor=actor,
                filters=cases_service.CaseListFilters(
                    status=filters.status.value if filters.status else None,
                    country=filters.country,
                    category=filters.category,
                    tag=filters.tag,
                    mine=filters.mine,
                ),
                cursor=params.get("cursor") or None,
                limit=PAGE_SIZE,
                secret=ctx.secret,
            )
        except ValidationProblem as problem:
            add_problem_errors(state, problem, renames={"cursor": ""})
    return render(request, "cases/list.html", {"form": state, "page": page, "filters": values})


# ---- intake: a new case ------------------------------------------------------------------------------------


@router.get("/cases/new")
def new_case_form(request: Request, ctx: ContextDep, session: SessionDep, actor: Creator) -> Response:
    """The case form, empty or filled from a draft."""
    draft_id = form_uuid(request.query_params.get("draft"))
    values = _draft_values(session=session, actor=actor, ctx=ctx, draft_id=draft_id, form="case")
    state = FormState(values=values or {"country": "BY", "status": "draft", "confidentiality": "internal"})
    return render(
        request,
        "cases/form.html",
        {
            "form": state,
            "draft_id": draft_id if values is not None else None,
            "case": None,
            "taxonomy_tree": picker_tree(session=session, actor=actor),
            "notice": notice(request.query_params.get("notice")),
        },
    )


@router.post("/cases/new")
def create_case(
    request: Request, form: SessionForm, ctx: ContextDep, session: SessionDep, actor: Creator
) -> Response:
    """Record the case, or save the form as a draft; on bad input show the form again with the errors."""
    values = form_values(form, multi=("categories",))
    if form.get("action") == "save_draft":
        return _keep_draft(
            session=session,
            actor=actor,
            ctx=ctx,
            form="case",
            values=values,
            draft_field=form.get("draft_id"),
            case_id=None,
            page="/cases/new",
        )
    try:
        case = cases_service.create_case(session=session, actor=actor, case_in=case_input(values))
    except FormInvalid as invalid:
        state = invalid.state
    except ValidationProblem as problem:
        session.rollback()
        state = add_problem_errors(FormState(values=values), problem)
    else:
        _finish_draft(session, actor, form.get("draft_id"))
        return redirect(f"/cases/{case.id}?notice=case_recorded")
    return render(
        request,
        "cases/form.html",
        {
            "form": state,
            "draft_id": form_uuid(form.get("draft_id")),
            "case": None,
            "taxonomy_tree": picker_tree(session=session, actor=actor),
        },
        status_code=422,
    )


# ---- the record ---------------------------------------------------------------------------------------------


@router.get("/cases/{case_id}")
def case_page(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: Reader
) -> Response:
    """The case: its record, categories, people (by pseudonym), testimonies, and links to history and sheet."""
    return render(
        request,
        "cases/page.html",
        _case_context(session, actor, case_id, ctx) | {"notice": notice(request.query_params.get("notice"))},
    )


@router.post("/cases/{case_id}/assign")
def assign_user(
    case_id: uuid.UUID,
    request: Request,
    form: SessionForm,
    ctx: ContextDep,
    session: SessionDep,
    actor: Assigner,
) -> Response:
    """Give a documenter access to the case (coordinators and admins)."""
    try:
        cases_service.assign_user(
            session=session,
            actor=actor,
            case_id=case_id,
            user_id=form_uuid(form.get("user_id")) or uuid.UUID(int=0),
        )
    except (ValidationProblem, Conflict) as problem:
        session.rollback()
        message = _ALREADY_ASSIGNED if isinstance(problem, Conflict) else _CHOOSE_USER
        context = _case_context(session, actor, case_id, ctx) | {"assign_error": message}
        return render(request, "cases/page.html", context, status_code=422)
    return redirect(f"/cases/{case_id}?notice=user_assigned")


@router.get("/cases/{case_id}/print")
def case_sheet(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: Reader
) -> Response:
    """A printable sheet of the case. It never shows identities, only pseudonyms: paper travels."""
    return render(request, "cases/print.html", _case_context(session, actor, case_id, ctx))


def _case_context(session: Session, actor: Actor, case_id: uuid.UUID, ctx: AppContext) -> dict[str, Any]:
    row = cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    case = cases_service.case_to_read(session=session, case=row)
    involvements = involvements_service.list_involvements(session=session, actor=actor, case_id=case_id)
    testimonies = (
        testimonies_service.list_testimonies(session=session, actor=actor, sealer=ctx.sealer, case_id=case_id)
        if actor.can(Permission.TESTIMONY_READ)
        else []
    )
    evidence = case_evidence(sealer=ctx.sealer, session=session, actor=actor, case_id=case_id)
    names = web_service.usernames(
        session=session,
        actor=actor,
        user_ids={case.created_by, case.updated_by}
        | {t.taken_by for t in testimonies}
        | custody_actors(evidence),
    )
    editable = case.retracted is None and cases_service.may_edit(session=session, actor=actor, case=row)
    assignable: list[tuple[str, str]] = []
    if case.retracted is None and actor.can(Permission.CASE_ASSIGN):
        assignable = sorted(
            (
                (str(u.id), u.username)
                for u in auth_service.list_users(session=session)
                if not u.disabled and u.role != Role.RESEARCHER.value and u.id != case.created_by
            ),
            key=lambda pair: sort_key(pair[1]),
        )
    return {
        "assignable": assignable,
        "assign_error": None,
        "case": case,
        "involvements": sorted(
            involvements,
            key=lambda i: (
                list(InvolvementRole).index(i.role),
                sort_key(i.person_pseudonym or i.organisation_name or ""),
            ),
        ),
        "testimonies": testimonies,
        "evidence": evidence,
        "categories": case_categories(session=session, codes=case.categories, primary=case.primary_category),
        "upload_form": FormState(),
        "upload_limit": ctx.settings.max_upload_bytes,
        "usernames": names,
        "editable": editable,
    }


@router.get("/cases/{case_id}/history")
def case_history(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: HistoryReader
) -> Response:
    """Every change to the case and the records inside it: who, when, which field, from what to what."""
    row = cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    revisions = history_service.list_case_revisions(
        session=session, actor=actor, case_id=case_id, sealer=ctx.sealer
    )
    names = web_service.usernames(session=session, actor=actor, user_ids={r.actor_id for r in revisions})
    return render(
        request,
        "cases/history.html",
        {
            "case": cases_service.case_to_read(session=session, case=row),
            "revisions": revisions,
            "usernames": names,
        },
    )


# ---- editing and retraction ---------------------------------------------------------------------------------


@router.get("/cases/{case_id}/edit")
def edit_case_form(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: Editor
) -> Response:
    """The case form filled with the record (or with a saved draft of changes)."""
    row = cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)
    case = cases_service.case_to_read(session=session, case=row)
    draft_id = form_uuid(request.query_params.get("draft"))
    values = _draft_values(session=session, actor=actor, ctx=ctx, draft_id=draft_id, form="case_edit")
    return render(
        request,
        "cases/form.html",
        {
            "form": FormState(values=values if values is not None else case_values(case)),
            "case": case,
            "version": case.version,
            "draft_id": draft_id if values is not None else None,
            "taxonomy_tree": picker_tree(session=session, actor=actor),
            "notice": notice(request.query_params.get("notice")),
        },
    )


@router.post("/cases/{case_id}/edit")
def update_case(
    case_id: uuid.UUID,
    request: Request,
    form: SessionForm,
    ctx: ContextDep,
    session: SessionDep,
    actor: Editor,
) -> Response:
    """Save the changes if nobody changed the case meanwhile (the form carries the version it was read at)."""
    row = cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)
    values = form_values(form, multi=("categories",))
    if form.get("action") == "save_draft":
        return _keep_draft(
            session=session,
            actor=actor,
            ctx=ctx,
            form="case_edit",
            values=values,
            draft_field=form.get("draft_id"),
            case_id=case_id,
            page=f"/cases/{case_id}/edit",
        )
    version = str(form.get("version", ""))
    try:
        case_in = case_input(values)
        update = CaseUpdate.model_validate(case_in.model_dump(include=set(CaseUpdate.model_fields)))
        cases_service.update_case(
            session=session, actor=actor, case_id=case_id, case_in=update, if_match=f'"v{version}"'
        )
    except FormInvalid as invalid:
        state = invalid.state
    except ValidationProblem as problem:
        session.rollback()
        state = add_problem_errors(FormState(values=values), problem)
    except PreconditionFailed:
        session.rollback()
        state = FormState(values=values, general=[_STALE])
        row = cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
        version = str(row.version)
    else:
        _finish_draft(session, actor, form.get("draft_id"))
        return redirect(f"/cases/{case_id}?notice=case_updated")
    case = cases_service.case_to_read(session=session, case=row)
    return render(
        request,
        "cases/form.html",
        {
            "form": state,
            "case": case,
            "version": version,
            "draft_id": form_uuid(form.get("draft_id")),
            "taxonomy_tree": picker_tree(session=session, actor=actor),
        },
        status_code=409 if state.general == [_STALE] else 422,
    )


@router.get("/cases/{case_id}/retract")
def retract_case_form(
    case_id: uuid.UUID, request: Request, session: SessionDep, actor: Retractor
) -> Response:
    """Ask for the reason before retracting: nothing is deleted, the case leaves the lists."""
    row = cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)
    return render(
        request,
        "cases/retract.html",
        {"case": cases_service.case_to_read(session=session, case=row), "version": row.version},
    )


@router.post("/cases/{case_id}/retract")
def retract_case(
    case_id: uuid.UUID, request: Request, form: SessionForm, session: SessionDep, actor: Retractor
) -> Response:
    """Retract the case with the reason given."""
    row = cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)
    values = form_values(form)
    version = str(form.get("version", ""))
    try:
        reason = Retraction.model_validate({"reason": values.get("reason", "")}).reason
        cases_service.retract_case(
            session=session, actor=actor, case_id=case_id, reason=reason, if_match=f'"v{version}"'
        )
    except ValidationError as exc:
        state = add_validation_errors(FormState(values=values), exc)
    except PreconditionFailed:
        session.rollback()
        state = FormState(values=values, general=[_STALE])
        row = cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
        version = str(row.version)
    else:
        return redirect(f"/cases/{case_id}?notice=case_retracted")
    return render(
        request,
        "cases/retract.html",
        {"case": cases_service.case_to_read(session=session, case=row), "version": version, "form": state},
        status_code=422,
    )


# ---- people and organisations in the case -------------------------------------------------------------------


def _involvement_page(
    request: Request,
    *,
    session: Session,
    actor: Actor,
    ctx: AppContext,
    case: CaseRead,
    state: FormState,
    draft_id: uuid.UUID | None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "cases/involvement_form.html",
        {
            "case": case,
            "form": state,
            "draft_id": draft_id,
            "people": _people_choices(session=session, actor=actor, ctx=ctx),
            "organisations": _organisation_choices(session=session, actor=actor, ctx=ctx),
            "notice": notice(request.query_params.get("notice")),
        },
        status_code=status_code,
    )


@router.get("/cases/{case_id}/involvements/new")
def new_involvement_form(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: InvolvementWriter
) -> Response:
    """Add a person (existing or new) or an organisation to the case, in a role."""
    row = cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)
    draft_id = form_uuid(request.query_params.get("draft"))
    values = _draft_values(session=session, actor=actor, ctx=ctx, draft_id=draft_id, form="involvement")
    return _involvement_page(
        request,
        session=session,
        actor=actor,
        ctx=ctx,
        case=cases_service.case_to_read(session=session, case=row),
        state=FormState(values=values or {"role": "victim"}),
        draft_id=draft_id if values is not None else None,
    )


def _involvement_rule(message: str) -> tuple[str, str]:
    """Place a rule of the involvement schema on the field it concerns."""
    if "victim_status" in message or "detention_type" in message:
        return "victim_status", message
    return "person_id", _CHOOSE_ACTOR


def _involvement_input(
    values: dict[str, Any], state: FormState, *, person_id: uuid.UUID | None
) -> InvolvementCreate | None:
    data: dict[str, Any] = {
        "role": text(values, "role"),
        "victim_status": text(values, "victim_status"),
        "description": long_text(values, "description") or None,
        "person_id": person_id,
        "organisation_id": form_uuid(values.get("organisation_id")),
    }
    try:
        return InvolvementCreate.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        add_validation_errors(state, exc, model_field=_involvement_rule)
        return None


@router.post("/cases/{case_id}/involvements/new")
def create_involvement(
    case_id: uuid.UUID,
    request: Request,
    form: SessionForm,
    ctx: ContextDep,
    session: SessionDep,
    actor: InvolvementWriter,
) -> Response:
    """Add the person or organisation; a new person is recorded first, under the pseudonym given."""
    row = cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)
    values = form_values(form)
    if form.get("action") == "save_draft":
        return _keep_draft(
            session=session,
            actor=actor,
            ctx=ctx,
            form="involvement",
            values=values,
            draft_field=form.get("draft_id"),
            case_id=case_id,
            page=f"/cases/{case_id}/involvements/new",
        )
    state = FormState(values=values)
    chosen = form_uuid(values.get("person_id"))
    new_person = None if chosen else _new_person(values, state)
    if new_person is not None and not actor.can(Permission.PERSON_WRITE):
        state.add("new_pseudonym", N_("Your role may not record new people."))
    # Validate the involvement before recording anyone, with a stand-in for the person still to be created.
    stand_in = chosen or (uuid.uuid4() if new_person is not None else None)
    involvement = _involvement_input(values, state, person_id=stand_in)
    if not state.invalid and involvement is not None:
        try:
            if new_person is not None:
                person = people_service.create_person(
                    session=session, actor=actor, sealer=ctx.sealer, person_in=new_person
                )
                involvement = involvement.model_copy(update={"person_id": person.id})
            involvements_service.create_involvement(
                session=session, actor=actor, case_id=case_id, involvement_in=involvement
            )
        except ValidationProblem as problem:
            session.rollback()
            add_problem_errors(state, problem)
        else:
            _finish_draft(session, actor, form.get("draft_id"))
            return redirect(f"/cases/{case_id}?notice=involvement_added")
    return _involvement_page(
        request,
        session=session,
        actor=actor,
        ctx=ctx,
        case=cases_service.case_to_read(session=session, case=row),
        state=state,
        draft_id=form_uuid(form.get("draft_id")),
        status_code=422,
    )


# ---- testimonies ---------------------------------------------------------------------------------------------


def _testimony_page(
    request: Request,
    *,
    session: Session,
    actor: Actor,
    ctx: AppContext,
    case: CaseRead,
    state: FormState,
    draft_id: uuid.UUID | None,
    status_code: int = 200,
) -> Response:
    involved = {
        str(i.person_id): i.person_pseudonym or ""
        for i in involvements_service.list_involvements(session=session, actor=actor, case_id=case.id)
        if i.person_id is not None
    }
    everyone = _people_choices(session=session, actor=actor, ctx=ctx)
    return render(
        request,
        "cases/testimony_form.html",
        {
            "case": case,
            "form": state,
            "draft_id": draft_id,
            "involved": sorted(involved.items(), key=lambda pair: sort_key(pair[1])),
            "others": [pair for pair in everyone if pair[0] not in involved],
            "notice": notice(request.query_params.get("notice")),
        },
        status_code=status_code,
    )


@router.get("/cases/{case_id}/testimonies/new")
def new_testimony_form(
    case_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: TestimonyWriter
) -> Response:
    """Record what a person said about the case."""
    row = cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)
    draft_id = form_uuid(request.query_params.get("draft"))
    values = _draft_values(session=session, actor=actor, ctx=ctx, draft_id=draft_id, form="testimony")
    defaults = {
        "language": row.language or "be",
        "reliability": "unknown",
        "taken_at": today().isoformat(),
    }
    return _testimony_page(
        request,
        session=session,
        actor=actor,
        ctx=ctx,
        case=cases_service.case_to_read(session=session, case=row),
        state=FormState(values=values or defaults),
        draft_id=draft_id if values is not None else None,
    )


@router.post("/cases/{case_id}/testimonies/new")
def create_testimony(
    case_id: uuid.UUID,
    request: Request,
    form: SessionForm,
    ctx: ContextDep,
    session: SessionDep,
    actor: TestimonyWriter,
) -> Response:
    """Record the testimony; a new source is recorded first and added to the case as a source."""
    row = cases_service.get_editable_case_or_raise(session=session, actor=actor, case_id=case_id)
    values = form_values(form)
    if form.get("action") == "save_draft":
        return _keep_draft(
            session=session,
            actor=actor,
            ctx=ctx,
            form="testimony",
            values=values,
            draft_field=form.get("draft_id"),
            case_id=case_id,
            page=f"/cases/{case_id}/testimonies/new",
        )
    state = FormState(values=values)
    chosen = form_uuid(values.get("source_person_id"))
    new_person = None if chosen else _new_person(values, state)
    if chosen is None and new_person is None and not state.errors.get("new_pseudonym"):
        state.add("source_person_id", _CHOOSE_SOURCE)
    if new_person is not None and not actor.can(Permission.PERSON_WRITE):
        state.add("new_pseudonym", N_("Your role may not record new people."))
    data = {
        "source_person_id": chosen or uuid.uuid4(),  # a stand-in until the new person is recorded
        "language": text(values, "language"),
        "text": long_text(values, "text"),
        "taken_at": text(values, "taken_at"),
        "place": text(values, "place"),
        "reliability": text(values, "reliability") or "unknown",
    }
    testimony: TestimonyCreate | None = None
    try:
        testimony = TestimonyCreate.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        add_validation_errors(state, exc)
    if testimony is not None and not testimony.text.strip():
        state.add("text", ERROR_TYPES["missing"])
    if not state.invalid and testimony is not None:
        try:
            if new_person is not None:
                person = people_service.create_person(
                    session=session, actor=actor, sealer=ctx.sealer, person_in=new_person
                )
                testimony = testimony.model_copy(update={"source_person_id": person.id})
                involvements_service.create_involvement(
                    session=session,
                    actor=actor,
                    case_id=case_id,
                    involvement_in=InvolvementCreate(person_id=person.id, role=InvolvementRole.SOURCE),
                )
            testimonies_service.create_testimony(
                session=session,
                actor=actor,
                sealer=ctx.sealer,
                words=ctx.words,
                case_id=case_id,
                testimony_in=testimony,
            )
        except ValidationProblem as problem:
            session.rollback()
            add_problem_errors(state, problem)
        else:
            _finish_draft(session, actor, form.get("draft_id"))
            return redirect(f"/cases/{case_id}?notice=testimony_added#testimonies")
    return _testimony_page(
        request,
        session=session,
        actor=actor,
        ctx=ctx,
        case=cases_service.case_to_read(session=session, case=row),
        state=state,
        draft_id=form_uuid(form.get("draft_id")),
        status_code=422,
    )
