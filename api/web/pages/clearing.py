"""The clearing page of a case, for coordinators: each free text with its cleared version for one audience,
the changes marked in the source, a box to correct it and a button to approve it.

Plain forms, no script: proposing, saving and approving each post a form (with the session's CSRF token) and
come back to the page with a redirect (POST-redirect-GET). They call the services of the API's clearing
routes (api.clearing.service), in one transaction per form: saving and approving at once is one commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.cases import service as cases_service
from api.clearing import service as clearing_service
from api.deps import ContextDep, SessionDep
from api.i18n import N_
from api.problems import Conflict, NotFound, PreconditionFailed
from api.records import etag
from api.testimonies import service as testimonies_service
from api.web import service as web_service
from api.web.forms import FormState, add_validation_errors
from api.web.routing import WebRoute, redirect
from api.web.session import SessionForm, WebRequire
from api.web.templating import render
from schemas.clearing import ClearingChange, ClearingState, ClearingUpdate, SourceKind
from schemas.export import ExportAudience

router = APIRouter(route_class=WebRoute)

Clearer = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ, Permission.TEXT_CLEAR))]

DEFAULT_AUDIENCE = ExportAudience.ILO
AUDIENCES = [a for a in ExportAudience if a is not ExportAudience.INTERNAL]
_NOTICES = {
    "proposed": N_(
        "Proposals were made. Read each one against its source, correct it if needed, and approve it."
    ),
    "nothing": N_("Every text already has a current proposal or approval for this audience."),
    "saved": N_("The correction was saved. It leaves only once it is approved."),
    "approved": N_("Approved: exports for this audience now carry this version of the text."),
}
_SOURCE_NAMES = {
    SourceKind.CASE_TITLE: N_("Title"),
    SourceKind.CASE_SUMMARY: N_("Summary"),
    SourceKind.CASE_NARRATIVE: N_("What happened"),
}
_STATES = {
    ClearingState.MISSING: N_("No proposal yet: withheld from exports"),
    ClearingState.PROPOSED: N_("Proposed, not approved: withheld from exports"),
    ClearingState.STALE: N_(
        "The text changed since: withheld from exports until proposed and approved again"
    ),
    ClearingState.APPROVED: N_("Approved: exports carry this version"),
}
_EDITED_MEANWHILE = N_(
    "Someone else changed this proposal while you were reading it. Your text is below: compare it with "
    "theirs (reload the page) and send it again."
)
_SOURCE_CHANGED = N_(
    "The text changed since this proposal was made. Propose again, then review the new proposal."
)


@dataclass(frozen=True)
class Segment:
    """A piece of the source text: plain, or a span the proposal replaced (marked on the page)."""

    text: str
    change: ClearingChange | None = None


def segments(text: str, changes: list[ClearingChange]) -> list[Segment]:
    """Cut the source into plain pieces and replaced spans, in order; spans that do not fit are left out."""
    pieces, at = [], 0
    for change in sorted(changes, key=lambda c: c.start):
        if not at <= change.start < change.end <= len(text):
            continue
        pieces += [Segment(text[at : change.start]), Segment(text[change.start : change.end], change)]
        at = change.end
    pieces.append(Segment(text[at:]))
    return [p for p in pieces if p.text]


def _audience(raw: Any) -> ExportAudience:
    try:
        audience = ExportAudience(raw) if isinstance(raw, str) and raw else DEFAULT_AUDIENCE
    except ValueError:
        return DEFAULT_AUDIENCE
    return audience if audience in AUDIENCES else DEFAULT_AUDIENCE


def _page_url(case_id: uuid.UUID, audience: ExportAudience, notice: str, anchor: str = "") -> str:
    return f"/cases/{case_id}/clearing?audience={audience.value}&notice={notice}{anchor}"


@router.get("/cases/{case_id}/clearing")
def clearing_page(case_id: uuid.UUID, request: Request, session: SessionDep, actor: Clearer) -> Response:
    """Each free text of the case with its proposal for the audience, the changes marked, to correct and approve."""
    audience = _audience(request.query_params.get("audience"))
    notice = _NOTICES.get(request.query_params.get("notice") or "")
    return _render(request, session, actor, case_id, audience, notice=notice)


def _render(
    request: Request,
    session: Session,
    actor: Actor,
    case_id: uuid.UUID,
    audience: ExportAudience,
    *,
    notice: str | None = None,
    forms: dict[uuid.UUID, FormState] | None = None,
    status_code: int = 200,
) -> Response:
    row = cases_service.get_case_or_raise(session=session, actor=actor, case_id=case_id)
    sealer = request.app.state.ctx.sealer
    reviews = clearing_service.review_case(
        session=session, sealer=sealer, actor=actor, case_id=case_id, audience=audience
    )
    testimonies = {
        t.id: t
        for t in testimonies_service.list_testimonies(
            session=session, actor=actor, sealer=sealer, case_id=case_id
        )
    }
    items = [
        _item(review, (forms or {}).get(review.clearing.id) if review.clearing else None)
        for review in reviews
    ]
    users = {r.clearing.proposed_by for r in reviews if r.clearing} | {
        r.clearing.approved_by for r in reviews if r.clearing and r.clearing.approved_by
    }
    return render(
        request,
        "cases/clearing.html",
        {
            "case": cases_service.case_to_read(session=session, case=row),
            "audience": audience.value,
            "audiences": [a.value for a in AUDIENCES],
            "items": items,
            "testimonies": testimonies,
            "source_names": _SOURCE_NAMES,
            "usernames": web_service.usernames(session=session, actor=actor, user_ids=users),
            "may_propose": row.retracted_at is None
            and any(r.state in (ClearingState.MISSING, ClearingState.STALE) for r in reviews),
            "notice": notice,
        },
        status_code=status_code,
    )


def _item(review: clearing_service.Review, form: FormState | None) -> dict[str, Any]:
    """What the page shows of one source: its parts with the changes marked, the form, the state in words."""
    clearing = review.clearing
    fresh = clearing is not None and review.state is not ClearingState.STALE
    changes = (clearing.changes or []) if clearing is not None and fresh else []
    return {
        "source": review.source,
        "clearing": clearing,
        "state": review.state.value,
        "state_text": _STATES[review.state],
        "segments": segments(review.source.text, changes),
        "changed": len(changes),
        "uncertain": sum(c.confidence == "low" for c in changes),
        "form": form or FormState(values={"text": clearing.text if clearing else ""}),
        "editable": fresh,
    }


@router.post("/cases/{case_id}/clearing/propose")
def propose_clearings(
    case_id: uuid.UUID, form: SessionForm, ctx: ContextDep, session: SessionDep, actor: Clearer
) -> Response:
    """Propose a cleared version of every text that has no current one for the audience; back to the page."""
    audience = _audience(form.get("audience"))
    proposed = clearing_service.propose_clearings(
        session=session, actor=actor, sealer=ctx.sealer, case_id=case_id, audience=audience
    )
    return redirect(_page_url(case_id, audience, "proposed" if proposed else "nothing"))


@router.post("/cases/{case_id}/clearing/{clearing_id}")
def save_clearing(
    case_id: uuid.UUID,
    clearing_id: uuid.UUID,
    request: Request,
    form: SessionForm,
    session: SessionDep,
    actor: Clearer,
) -> Response:
    """Save the corrected text (button "save"), or save it and approve it (button "approve"); back to the page."""
    audience = _audience(form.get("audience"))
    current = clearing_service.get_clearing_or_raise(session=session, actor=actor, clearing_id=clearing_id)
    if current.case_id != case_id:
        raise NotFound(f"No cleared text {clearing_id} in this case.")
    state = FormState(values={"text": _typed(form)})
    try:
        update = ClearingUpdate.model_validate({"text": state.values["text"]})
        sealer = request.app.state.ctx.sealer
        row = clearing_service.edit_clearing(
            session=session,
            sealer=sealer,
            actor=actor,
            clearing_id=clearing_id,
            update=update,
            if_match=_if_match(form),
        )
        if form.get("action") == "approve":
            row = clearing_service.approve_clearing(
                session=session,
                sealer=sealer,
                actor=actor,
                clearing_id=clearing_id,
                if_match=etag(row.version),
            )
    except ValidationError as exc:
        add_validation_errors(state, exc, model_field="text")
        status = 422
    except (PreconditionFailed, Conflict) as problem:
        session.rollback()
        state.add("text", _EDITED_MEANWHILE if isinstance(problem, PreconditionFailed) else _SOURCE_CHANGED)
        status = 409
    else:
        notice = "approved" if row.status.value == "approved" else "saved"
        return redirect(_page_url(case_id, audience, notice, f"#c-{clearing_id}"))
    return _render(request, session, actor, case_id, audience, forms={clearing_id: state}, status_code=status)


def _typed(form: FormData) -> str:
    """The textarea as typed; browsers send its line breaks as CR LF, stored texts have LF."""
    value = form.get("text")
    return value.replace("\r\n", "\n") if isinstance(value, str) else ""


def _if_match(form: FormData) -> str:
    """The version the page was showing, as the If-Match the API would be sent."""
    value = form.get("version")
    return etag(int(value)) if isinstance(value, str) and value.isascii() and value.isdigit() else etag(0)
