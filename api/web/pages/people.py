"""People, their consents, and organisations. A person's identity is shown only on their own page, only to
users holding person:read_identity, and each showing is written to the audit log by the people service.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.context import AppContext
from api.deps import ContextDep, SessionDep
from api.i18n import N_
from api.people import service as people_service
from api.problems import PreconditionFailed, ValidationProblem
from api.web import service as web_service
from api.web.collation import sort_key
from api.web.common import form_uuid, notice, today
from api.web.forms import (
    FormInvalid,
    FormState,
    add_problem_errors,
    add_validation_errors,
    form_values,
    lines,
    long_text,
    text,
    tri_state,
)
from api.web.routing import WebRoute, redirect
from api.web.session import SessionForm, WebRequire
from api.web.templating import render
from schemas.person import (
    ConsentCreate,
    ConsentWithdrawal,
    OrganisationCreate,
    PersonCreate,
    PersonRead,
    PersonUpdate,
)

router = APIRouter(route_class=WebRoute)

Reader = Annotated[Actor, Depends(WebRequire(Permission.PERSON_READ))]
Writer = Annotated[Actor, Depends(WebRequire(Permission.PERSON_WRITE))]
ConsentWriter = Annotated[Actor, Depends(WebRequire(Permission.CONSENT_READ, Permission.CONSENT_WRITE))]
OrganisationWriter = Annotated[Actor, Depends(WebRequire(Permission.ORGANISATION_WRITE))]

PAGE_SIZE = 50
CONTACT_ROWS = 3
_PERSON_LINES = (
    "pseudonym",
    "counting_unit",
    "group_size",
    "risk_status",
    "risk_reviewed_on",
    "occupation",
)
_IDENTITY_LINES = ("full_name", "name_be", "name_ru", "name_latin", "date_of_birth")
_STALE = N_(
    "Someone else changed this person while you were editing. Your version is below; sending the form "
    "again saves it over theirs."
)


# ---- form <-> schema ---------------------------------------------------------------------------------------


def _identity_data(values: dict[str, Any]) -> dict[str, Any]:
    """The identity fields of the form; every field present (None when blank) so that clearing one works."""
    data: dict[str, Any] = {name: text(values, f"identity.{name}") for name in _IDENTITY_LINES}
    data["other_names"] = lines(values, "identity.other_names")
    data["address"] = long_text(values, "identity.address") or None
    data["notes"] = long_text(values, "identity.notes") or None
    contacts = []
    for row in range(CONTACT_ROWS):
        value = text(values, f"identity.contacts.{row}.value")
        if value is not None:
            contacts.append(
                {"kind": text(values, f"identity.contacts.{row}.kind") or "other", "value": value}
            )
    data["contacts"] = contacts
    return data


def person_input(values: dict[str, Any], *, with_identity: bool) -> PersonCreate:
    """Validate the person form with the API's schema; errors land on their fields."""
    data: dict[str, Any] = {}
    for name in _PERSON_LINES:
        value = text(values, name)
        if value is not None:
            data[name] = value
    data["relatives_in_country"] = tri_state(values, "relatives_in_country")
    data["organisation_id"] = form_uuid(values.get("organisation_id"))
    if with_identity:
        identity = _identity_data(values)
        if any(v not in (None, [], "") for v in identity.values()):
            data["identity"] = identity
    try:
        return PersonCreate.model_validate(data)
    except ValidationError as exc:
        raise FormInvalid(add_validation_errors(FormState(values=values), exc)) from None


def person_values(person: PersonRead) -> dict[str, Any]:
    """The form values of a recorded person (the identity only if it was opened for this user)."""
    values: dict[str, Any] = {
        "pseudonym": person.pseudonym,
        "counting_unit": person.counting_unit.value,
        "group_size": "" if person.group_size is None else str(person.group_size),
        "risk_status": person.risk_status.value,
        "relatives_in_country": {True: "yes", False: "no", None: ""}[person.relatives_in_country],
        "risk_reviewed_on": person.risk_reviewed_on.isoformat() if person.risk_reviewed_on else "",
        "organisation_id": str(person.organisation_id) if person.organisation_id else "",
        "occupation": person.occupation or "",
    }
    identity = person.identity
    if identity is not None:
        for name in ("full_name", "name_be", "name_ru", "name_latin", "address", "notes"):
            values[f"identity.{name}"] = getattr(identity, name) or ""
        values["identity.other_names"] = "\n".join(identity.other_names)
        values["identity.date_of_birth"] = (
            identity.date_of_birth.isoformat() if identity.date_of_birth else ""
        )
        for row, contact in enumerate(identity.contacts[:CONTACT_ROWS]):
            values[f"identity.contacts.{row}.kind"] = contact.kind.value
            values[f"identity.contacts.{row}.value"] = contact.value
    return values


def _organisation_choices(*, session: Session, actor: Actor, ctx: AppContext) -> list[tuple[str, str]]:
    page = people_service.list_organisations(
        session=session, actor=actor, cursor=None, limit=200, secret=ctx.secret, q=None
    )
    return sorted(((str(o.id), o.name) for o in page.items), key=lambda pair: sort_key(pair[1]))


def _form_page(
    request: Request,
    *,
    session: Session,
    actor: Actor,
    ctx: AppContext,
    state: FormState,
    person: PersonRead | None = None,
    draft_id: uuid.UUID | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "people/form.html",
        {
            "form": state,
            "person": person,
            "draft_id": draft_id,
            "contact_rows": range(CONTACT_ROWS),
            "organisations": _organisation_choices(session=session, actor=actor, ctx=ctx),
            "notice": notice(request.query_params.get("notice")),
        },
        status_code=status_code,
    )


# ---- people --------------------------------------------------------------------------------------------------


@router.get("/people")
def people_list(request: Request, ctx: ContextDep, session: SessionDep, actor: Reader) -> Response:
    """People the user may see, by pseudonym (identities are never opened for a list)."""
    # Control characters can only be typed on purpose and PostgreSQL cannot compare a NUL: drop them.
    q = "".join(ch for ch in (request.query_params.get("q") or "") if ch.isprintable()).strip()[:200]
    state = FormState(values={"q": q})
    page = None
    try:
        page = people_service.list_people(
            session=session,
            actor=actor,
            sealer=ctx.sealer,
            cursor=request.query_params.get("cursor") or None,
            limit=PAGE_SIZE,
            secret=ctx.secret,
            q=q or None,
            with_identity=False,
        )
    except ValidationProblem as problem:
        add_problem_errors(state, problem, renames={"cursor": ""})
    people = sorted(page.items, key=lambda p: sort_key(p.pseudonym)) if page else []
    return render(request, "people/list.html", {"form": state, "page": page, "people": people, "q": q})


@router.get("/people/new")
def new_person_form(request: Request, ctx: ContextDep, session: SessionDep, actor: Writer) -> Response:
    """Record a person under a pseudonym, with their identity sealed."""
    draft_id = form_uuid(request.query_params.get("draft"))
    values = None
    if draft_id is not None:
        draft = web_service.get_draft(session=session, actor=actor, sealer=ctx.sealer, draft_id=draft_id)
        values = draft.data if draft.form == "person" else None
    state = FormState(values=values or {"counting_unit": "individual", "risk_status": "unknown"})
    return _form_page(
        request,
        session=session,
        actor=actor,
        ctx=ctx,
        state=state,
        draft_id=draft_id if values is not None else None,
    )


@router.post("/people/new")
def create_person(
    request: Request, form: SessionForm, ctx: ContextDep, session: SessionDep, actor: Writer
) -> Response:
    """Record the person (or save the form as a draft, sealed like the identity it may hold)."""
    values = form_values(form)
    draft_field = form_uuid(form.get("draft_id"))
    if form.get("action") == "save_draft":
        draft_id = web_service.save_draft(
            session=session, actor=actor, sealer=ctx.sealer, form="person", data=values, draft_id=draft_field
        )
        return redirect(f"/people/new?draft={draft_id}&notice=draft_saved")
    try:
        person = people_service.create_person(
            session=session,
            actor=actor,
            sealer=ctx.sealer,
            person_in=person_input(values, with_identity=actor.can(Permission.PERSON_READ_IDENTITY)),
        )
    except FormInvalid as invalid:
        state = invalid.state
    except ValidationProblem as problem:
        session.rollback()
        state = add_problem_errors(FormState(values=values), problem)
    else:
        if draft_field is not None:
            web_service.discard_draft(session=session, actor=actor, draft_id=draft_field)
        return redirect(f"/people/{person.id}?notice=person_recorded")
    return _form_page(
        request, session=session, actor=actor, ctx=ctx, state=state, draft_id=draft_field, status_code=422
    )


@router.get("/people/{person_id}")
def person_page(
    person_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: Reader
) -> Response:
    """A person: pseudonym and situation; the identity and consents for those allowed to see them."""
    person = people_service.get_person(session=session, actor=actor, sealer=ctx.sealer, person_id=person_id)
    consents = (
        people_service.list_consents(session=session, actor=actor, person_id=person_id)
        if actor.can(Permission.CONSENT_READ)
        else []
    )
    organisation = None
    if person.organisation_id is not None:
        organisation = people_service.get_organisation_or_raise(
            session=session, actor=actor, organisation_id=person.organisation_id
        )
    names = web_service.usernames(
        session=session, actor=actor, user_ids={person.created_by} | {c.recorded_by for c in consents}
    )
    return render(
        request,
        "people/page.html",
        {
            "person": person,
            "consents": consents,
            "organisation": organisation,
            "usernames": names,
            "notice": notice(request.query_params.get("notice")),
        },
    )


@router.get("/people/{person_id}/edit")
def edit_person_form(
    person_id: uuid.UUID, request: Request, ctx: ContextDep, session: SessionDep, actor: Writer
) -> Response:
    """The person form filled with the record."""
    people_service.get_editable_person_or_raise(session=session, actor=actor, person_id=person_id)
    person = people_service.get_person(session=session, actor=actor, sealer=ctx.sealer, person_id=person_id)
    state = FormState(values=person_values(person) | {"version": str(person.version)})
    return _form_page(request, session=session, actor=actor, ctx=ctx, state=state, person=person)


@router.post("/people/{person_id}/edit")
def update_person(
    person_id: uuid.UUID,
    request: Request,
    form: SessionForm,
    ctx: ContextDep,
    session: SessionDep,
    actor: Writer,
) -> Response:
    """Save the changes if nobody changed the person meanwhile."""
    people_service.get_editable_person_or_raise(session=session, actor=actor, person_id=person_id)
    values = form_values(form)
    version = str(form.get("version", ""))
    with_identity = actor.can(Permission.PERSON_READ_IDENTITY)
    try:
        person_in = person_input(values, with_identity=with_identity)
        identity = {"identity": _identity_data(values)} if with_identity else {}
        update = PersonUpdate.model_validate(person_in.model_dump(exclude={"identity"}) | identity)
        people_service.update_person(
            session=session,
            actor=actor,
            sealer=ctx.sealer,
            person_id=person_id,
            person_in=update,
            if_match=f'"v{version}"',
        )
    except FormInvalid as invalid:
        state = invalid.state
    except ValidationError as exc:
        state = add_validation_errors(FormState(values=values), exc)
    except ValidationProblem as problem:
        session.rollback()
        state = add_problem_errors(FormState(values=values), problem)
    except PreconditionFailed:
        session.rollback()
        state = FormState(values=values, general=[_STALE])
        version = str(
            people_service.get_person_or_raise(session=session, actor=actor, person_id=person_id).version
        )
    else:
        return redirect(f"/people/{person_id}?notice=person_updated")
    state.values["version"] = version
    person = people_service.person_to_read(
        session=session,
        actor=actor,
        sealer=ctx.sealer,
        person=people_service.get_person_or_raise(session=session, actor=actor, person_id=person_id),
        with_identity=False,
    )
    return _form_page(
        request,
        session=session,
        actor=actor,
        ctx=ctx,
        state=state,
        person=person,
        status_code=409 if state.general == [_STALE] else 422,
    )


# ---- consents ------------------------------------------------------------------------------------------------


@router.get("/people/{person_id}/consents/new")
def new_consent_form(
    person_id: uuid.UUID, request: Request, session: SessionDep, actor: ConsentWriter
) -> Response:
    """Record a consent to be named to one audience."""
    person = people_service.get_person_or_raise(session=session, actor=actor, person_id=person_id)
    defaults = {"granted_at": today().isoformat(), "method": "written", "language": "be"}
    return render(request, "people/consent_form.html", {"person": person, "form": FormState(values=defaults)})


@router.post("/people/{person_id}/consents/new")
def record_consent(
    person_id: uuid.UUID, request: Request, form: SessionForm, session: SessionDep, actor: ConsentWriter
) -> Response:
    """Record the consent."""
    person = people_service.get_person_or_raise(session=session, actor=actor, person_id=person_id)
    values = form_values(form)
    data = {
        name: value
        for name in ("audience", "granted_at", "method", "purpose", "text_version", "language", "notes")
        if (value := text(values, name)) is not None
    }
    state = FormState(values=values)
    try:
        people_service.record_consent(
            session=session, actor=actor, person_id=person_id, consent_in=ConsentCreate.model_validate(data)
        )
    except ValidationError as exc:
        add_validation_errors(state, exc)
    except ValidationProblem as problem:
        session.rollback()
        add_problem_errors(state, problem)
    else:
        return redirect(f"/people/{person_id}?notice=consent_recorded#consents")
    return render(request, "people/consent_form.html", {"person": person, "form": state}, status_code=422)


@router.get("/people/{person_id}/consents/{consent_id}/withdraw")
def withdraw_consent_form(
    person_id: uuid.UUID, consent_id: uuid.UUID, request: Request, session: SessionDep, actor: ConsentWriter
) -> Response:
    """Record that a person withdrew a consent (the consent record stays)."""
    person = people_service.get_person_or_raise(session=session, actor=actor, person_id=person_id)
    consent = people_service.get_consent_or_raise(
        session=session, actor=actor, person_id=person_id, consent_id=consent_id
    )
    state = FormState(values={"withdrawn_at": today().isoformat()})
    return render(request, "people/withdraw_form.html", {"person": person, "consent": consent, "form": state})


@router.post("/people/{person_id}/consents/{consent_id}/withdraw")
def withdraw_consent(
    person_id: uuid.UUID,
    consent_id: uuid.UUID,
    request: Request,
    form: SessionForm,
    session: SessionDep,
    actor: ConsentWriter,
) -> Response:
    """Record the withdrawal."""
    person = people_service.get_person_or_raise(session=session, actor=actor, person_id=person_id)
    values = form_values(form)
    data = {name: value for name in ("withdrawn_at", "reason") if (value := text(values, name)) is not None}
    state = FormState(values=values)
    try:
        people_service.withdraw_consent(
            session=session,
            actor=actor,
            person_id=person_id,
            consent_id=consent_id,
            withdrawal=ConsentWithdrawal.model_validate(data),
        )
    except ValidationError as exc:
        add_validation_errors(state, exc)
    except ValidationProblem as problem:
        session.rollback()
        add_problem_errors(state, problem)
    else:
        return redirect(f"/people/{person_id}?notice=consent_withdrawn#consents")
    consent = people_service.get_consent_or_raise(
        session=session, actor=actor, person_id=person_id, consent_id=consent_id
    )
    return render(
        request,
        "people/withdraw_form.html",
        {"person": person, "consent": consent, "form": state},
        status_code=422,
    )


# ---- organisations -------------------------------------------------------------------------------------------


def _organisations_page(
    request: Request,
    *,
    session: Session,
    actor: Actor,
    ctx: AppContext,
    state: FormState,
    status_code: int = 200,
) -> Response:
    q = (request.query_params.get("q") or "").strip()[:200]
    page = people_service.list_organisations(
        session=session, actor=actor, cursor=None, limit=200, secret=ctx.secret, q=q or None
    )
    return render(
        request,
        "people/organisations.html",
        {
            "organisations": sorted(page.items, key=lambda o: sort_key(o.name)),
            "total": page.total,
            "q": q,
            "form": state,
            "notice": notice(request.query_params.get("notice")),
        },
        status_code=status_code,
    )


@router.get("/organisations")
def organisations(request: Request, ctx: ContextDep, session: SessionDep, actor: Reader) -> Response:
    """Unions, employers, state bodies and courts, named in the open; and a form to record one."""
    return _organisations_page(
        request, session=session, actor=actor, ctx=ctx, state=FormState(values={"kind": "employer"})
    )


@router.post("/organisations")
def create_organisation(
    request: Request, form: SessionForm, ctx: ContextDep, session: SessionDep, actor: OrganisationWriter
) -> Response:
    """Record an organisation."""
    values = form_values(form)
    data = {
        name: value
        for name in ("name", "kind", "country", "sector")
        if (value := text(values, name)) is not None
    }
    if long_text(values, "notes"):
        data["notes"] = long_text(values, "notes")
    state = FormState(values=values)
    try:
        people_service.create_organisation(
            session=session, actor=actor, org_in=OrganisationCreate.model_validate(data)
        )
    except ValidationError as exc:
        add_validation_errors(state, exc)
    except ValidationProblem as problem:
        session.rollback()
        add_problem_errors(state, problem)
    else:
        return redirect("/organisations?notice=organisation_recorded")
    return _organisations_page(request, session=session, actor=actor, ctx=ctx, state=state, status_code=422)
