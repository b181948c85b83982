"""The review page of a recording, for coordinators: make the release copy, download it and listen to or watch
it, then approve it for named outside audiences or refuse it, with a note; every decision so far is listed.

Plain forms, no script: each posts with the session's CSRF token and comes back with a redirect
(POST-redirect-GET); a refused form comes back with the reason next to it. They call the services of the
API's review routes (api.evidence.review): the copy is made as the API makes it (its own transactions,
long work), a decision is one transaction per form.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from api.auth.permissions import Permission
from api.auth.security import Actor
from api.context import AppContext
from api.deps import ContextDep, SessionDep
from api.evidence import review as review_service
from api.evidence import service as evidence_service
from api.i18n import N_
from api.models import EvidenceBlob
from api.problems import Conflict, ValidationProblem
from api.web import service as web_service
from api.web.forms import FormState, add_validation_errors
from api.web.routing import WebRoute, redirect
from api.web.session import SessionForm, WebRequire
from api.web.templating import render
from schemas.export import ExportAudience
from schemas.media_review import MediaReleaseState, MediaReviewCreate, ReviewDecision

router = APIRouter(route_class=WebRoute)

Reviewer = Annotated[Actor, Depends(WebRequire(Permission.CASE_READ, Permission.MEDIA_REVIEW))]

AUDIENCES = [a for a in ExportAudience if a is not ExportAudience.INTERNAL]
_NOTICES = {
    "made": N_("The copy was made. Download it, listen to or watch it to the end, then decide below."),
    "approved": N_("Approved: bundles for the audiences ticked now carry this copy, never the original."),
    "refused": N_("Refused: the recording stays inside the organisation."),
}
_STATES = {
    MediaReleaseState.NOT_REVIEWED: N_("Not reviewed: withheld from outside bundles"),
    MediaReleaseState.APPROVED: N_("Approved: bundles carry the reviewed copy"),
    MediaReleaseState.OTHER_AUDIENCES: N_("Approved for other audiences only: withheld"),
    MediaReleaseState.REFUSED: N_("Refused: withheld"),
    MediaReleaseState.COPY_CHANGED: N_("The approved copy's bytes changed: withheld"),
}
_NOT_DECODED = N_("No copy could be made: the recording could not be decoded. It stays inside.")
_NOT_HEARD = N_("Download the copy and listen to or watch it before you approve it.")
_COPY_CHANGED = N_("This copy is not the one the page showed. Reload the page and review the copy again.")
_NO_AUDIENCE = N_("Tick at least one audience the copy is approved for.")


def _page_url(evidence_id: uuid.UUID, notice: str) -> str:
    return f"/evidence/{evidence_id}/review?notice={notice}"


@router.get("/evidence/{recording_id}/review")
def review_page(recording_id: uuid.UUID, request: Request, session: SessionDep, actor: Reviewer) -> Response:
    """The recording, its copies (downloaded by you or not), where it stands per audience, and the decision form."""
    notice = _NOTICES.get(request.query_params.get("notice") or "")
    return _render(request, session=session, actor=actor, evidence_id=recording_id, notice=notice)


def _render(
    request: Request,
    *,
    session: Session,
    actor: Actor,
    evidence_id: uuid.UUID,
    notice: str | None = None,
    form: FormState | None = None,
    status_code: int = 200,
) -> Response:
    # The allow-list view: the page needs the kind, digest and type, and opens no file name or identifier.
    original = review_service.get_recording_or_raise(session=session, actor=actor, evidence_id=evidence_id)
    blob = session.get(EvidenceBlob, original.blob_sha256) if original.blob_sha256 else None
    item = evidence_service.evidence_to_research_read(item=original, blob=blob)
    decisions = review_service.list_reviews(session=session, actor=actor, evidence_id=evidence_id)
    copies = [
        {
            "id": copy.id,
            "digest": f"sha256:{blob.sha256}",
            "size": blob.size,
            "media_type": blob.media_type,
            "created_at": copy.created_at,
            "heard": review_service.downloaded_by(session=session, actor=actor, evidence_id=copy.id),
        }
        for copy, blob in review_service.review_copies(session=session, evidence_id=evidence_id)
    ]
    states = {
        a.value: _STATES[
            review_service.release_for(session=session, evidence_id=evidence_id, audience=a).state
        ]
        for a in AUDIENCES
    }
    return render(
        request,
        "cases/media_review.html",
        {
            "item": item,
            "copies": copies,
            "decisions": decisions,
            "states": states,
            "audiences": [a.value for a in AUDIENCES],
            "usernames": web_service.usernames(
                session=session, actor=actor, user_ids={d.decided_by for d in decisions}
            ),
            "notice": notice,
            "form": form or FormState(),
        },
        status_code=status_code,
    )


@router.post("/evidence/{recording_id}/review-copy")
async def make_review_copy(
    recording_id: uuid.UUID, request: Request, form: SessionForm, ctx: ContextDep, actor: Reviewer
) -> Response:
    """Make the release copy (decoding and encoding take a while); back to the page, or the reason it failed."""
    del form  # read only for its CSRF token
    try:
        await run_in_threadpool(
            review_service.make_review_copy, ctx=ctx, actor=actor, evidence_id=recording_id
        )
    except ValidationProblem:
        return await run_in_threadpool(_not_decoded, request, ctx=ctx, actor=actor, evidence_id=recording_id)
    return redirect(_page_url(recording_id, "made"))


def _not_decoded(request: Request, *, ctx: AppContext, actor: Actor, evidence_id: uuid.UUID) -> Response:
    """The page again, saying no copy could be made."""
    state = FormState()
    state.add("", _NOT_DECODED)
    with ctx.db.session(write=False) as session:
        return _render(
            request, session=session, actor=actor, evidence_id=evidence_id, form=state, status_code=422
        )


def _review_in(form: FormData, state: FormState) -> MediaReviewCreate | None:
    """The decision as the API's schema reads it; errors land on the form."""
    audiences = [str(a) for a in form.getlist("audiences")]
    state.values = {"audiences": audiences, "note": str(form.get("note") or "")}
    decision = str(form.get("decision") or "")
    data = {
        "derivative_id": form.get("derivative_id"),
        "derivative_digest": form.get("derivative_digest"),
        "decision": decision,
        "audiences": audiences if decision == ReviewDecision.APPROVED.value else [],
        "note": state.values["note"].replace("\r\n", "\n").strip() or None,
    }
    if decision == ReviewDecision.APPROVED.value and not audiences:
        state.add("audiences", _NO_AUDIENCE)
        return None
    try:
        return MediaReviewCreate.model_validate(data)
    except ValidationError as exc:
        add_validation_errors(state, exc)
        return None


@router.post("/evidence/{recording_id}/review")
def decide_review(
    recording_id: uuid.UUID,
    request: Request,
    form: SessionForm,
    session: SessionDep,
    actor: Reviewer,
) -> Response:
    """Approve the copy for the audiences ticked (button "approved") or refuse it ("refused")."""
    state = FormState()
    review_in = _review_in(form, state)
    if review_in is not None:
        heard = review_service.downloaded_by(
            session=session, actor=actor, evidence_id=review_in.derivative_id
        )
        try:
            review = review_service.decide_review(
                session=session, actor=actor, evidence_id=recording_id, review_in=review_in
            )
        except Conflict:
            session.rollback()
            refused_unheard = review_in.decision is ReviewDecision.APPROVED and not heard
            state.add("", _NOT_HEARD if refused_unheard else _COPY_CHANGED)
        else:
            return redirect(_page_url(recording_id, review.decision.value))
    return _render(
        request,
        session=session,
        actor=actor,
        evidence_id=recording_id,
        form=state,
        status_code=409 if not state.errors else 422,
    )
