"""The signed-in person's own account: the second factor (TOTP, enrolled without JavaScript: the QR code is
drawn on the server as inline SVG), their sessions and tokens, and the duress password."""

from __future__ import annotations

import uuid

import segno
from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlmodel import Session

from api.auth import duress as duress_service
from api.auth import second_factor
from api.auth import sessions as sessions_service
from api.auth.security import Actor
from api.context import AppContext
from api.deps import ContextDep, SessionDep
from api.i18n import N_
from api.problems import Conflict, ValidationProblem
from api.web.common import notice
from api.web.forms import FormState, add_problem_errors
from api.web.routing import WebRoute, redirect
from api.web.session import SessionForm, WebActor, clear_session_cookie
from api.web.templating import render

router = APIRouter(route_class=WebRoute)

_WRONG_CODE = N_("The code does not match. Check that the phone's clock is right and type the newest code.")
_ALREADY_ON = N_("A second factor is already on. An administrator can reset it if you lost your phone.")


def qr_svg(uri: str) -> Markup:
    """The QR code of `uri` as inline SVG (no script, no image request), titled for screen readers."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=4, title="otpauth QR code")
    return Markup(svg)  # noqa: S704 (segno's own SVG of our URI: base32 secret, username, issuer)


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _second_factor_page(
    request: Request,
    *,
    ctx: AppContext,
    session: Session,
    actor: Actor,
    state: FormState | None = None,
    status_code: int = 200,
) -> Response:
    found = second_factor.status(ctx=ctx, session=session, actor=actor)
    context: dict[str, object] = {
        "status": found,
        "form": state or FormState(),
        "notice": notice(request.query_params.get("notice")),
    }
    if found.pending_secret and found.pending_uri:
        context |= {"grouped_secret": _grouped(found.pending_secret), "qr": qr_svg(found.pending_uri)}
    return render(request, "account/second_factor.html", context, status_code=status_code)


@router.get("/account/2fa")
def second_factor_page(request: Request, ctx: ContextDep, session: SessionDep, actor: WebActor) -> Response:
    """The second factor: on or off, and an enrolment in progress (QR code and secret as text)."""
    return _second_factor_page(request, ctx=ctx, session=session, actor=actor)


@router.post("/account/2fa")
def start_second_factor(
    request: Request, form: SessionForm, ctx: ContextDep, session: SessionDep, actor: WebActor
) -> Response:
    """Make a new secret to scan; it is on once a code from it is confirmed."""
    try:
        second_factor.start_totp_enrolment(ctx=ctx, session=session, actor=actor)
    except Conflict:
        state = FormState(general=[_ALREADY_ON])
        return _second_factor_page(
            request, ctx=ctx, session=session, actor=actor, state=state, status_code=409
        )
    session.commit()
    return redirect("/account/2fa")


@router.post("/account/2fa/confirm")
def confirm_second_factor(
    request: Request, form: SessionForm, ctx: ContextDep, session: SessionDep, actor: WebActor
) -> Response:
    """Turn the second factor on with a first code; show the ten recovery codes, this once."""
    try:
        codes = second_factor.confirm_totp(
            ctx=ctx, session=session, actor=actor, code=str(form.get("code", ""))
        )
    except Conflict:
        session.rollback()
        state = FormState(general=[_ALREADY_ON])
        return _second_factor_page(
            request, ctx=ctx, session=session, actor=actor, state=state, status_code=409
        )
    except ValidationProblem:
        session.rollback()
        state = FormState()
        state.add("code", _WRONG_CODE)
        return _second_factor_page(
            request, ctx=ctx, session=session, actor=actor, state=state, status_code=422
        )
    session.commit()
    # Shown in this response only: never in a URL, never stored in clear.
    return render(request, "account/recovery_codes.html", {"codes": codes})


@router.get("/account/sessions")
def sessions_page(request: Request, session: SessionDep, actor: WebActor) -> Response:
    """Your sessions and tokens: where and with what they signed in, when they were last used."""
    return render(
        request,
        "account/sessions.html",
        {
            "sessions": sessions_service.list_sessions(session=session, actor=actor),
            "notice": notice(request.query_params.get("notice")),
        },
    )


@router.post("/account/sessions/others/end")
def end_other_sessions(request: Request, form: SessionForm, session: SessionDep, actor: WebActor) -> Response:
    """End every other session and token of yours (a lost phone, a borrowed computer)."""
    sessions_service.end_other_sessions(session=session, actor=actor)
    session.commit()
    return redirect("/account/sessions?notice=other_sessions_ended")


@router.post("/account/sessions/{session_id}/end")
def end_session(
    session_id: uuid.UUID, request: Request, form: SessionForm, session: SessionDep, actor: WebActor
) -> Response:
    """End one session; ending this browser's own signs it out."""
    sessions_service.end_session(session=session, actor=actor, session_id=session_id)
    session.commit()
    if session_id == actor.token_id:
        response = redirect("/login?notice=signed_out")
        clear_session_cookie(response, request)
        return response
    return redirect("/account/sessions?notice=session_ended")


@router.get("/account/duress")
def duress_page(request: Request, actor: WebActor) -> Response:
    """Set a duress password: what it does, and the form."""
    return render(request, "account/duress.html", {"notice": notice(request.query_params.get("notice"))})


@router.post("/account/duress")
def set_duress_password(
    request: Request, form: SessionForm, session: SessionDep, actor: WebActor
) -> Response:
    """Set (or replace) the duress password after checking the current one."""
    try:
        duress_service.set_duress_password(
            session=session,
            actor=actor,
            password=str(form.get("password", "")),
            duress_password=str(form.get("duress_password", "")),
        )
    except ValidationProblem as problem:
        session.rollback()
        state = add_problem_errors(FormState(), problem)
        return render(request, "account/duress.html", {"form": state}, status_code=422)
    session.commit()
    return redirect("/account/duress?notice=duress_password_set")
