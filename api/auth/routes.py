"""Sign in (password, then a code for accounts with a second factor), sign out, who you are, the second
factor, the caller's sessions and tokens, and the duress password."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.security import OAuth2PasswordRequestForm

from api import i18n
from api.auth import duress as duress_service
from api.auth import second_factor
from api.auth import service as auth_service
from api.auth import sessions as sessions_service
from api.auth.clients import client_info
from api.deps import ContextDep, CurrentActor, SessionDep
from api.problems import ValidationProblem, problem_responses
from api.routing import SessionRoute
from schemas.auth import (
    DuressPasswordSet,
    MeRead,
    RecoveryCodes,
    SessionRead,
    SessionsEnded,
    TokenRead,
    TotpConfirm,
    TotpEnrolment,
)
from schemas.problem import FieldError

router = APIRouter(route_class=SessionRoute, prefix="/auth", tags=["auth"])

OtpField = Annotated[
    str | None, Form(max_length=64, description="The current TOTP code, or an unused recovery code.")
]
DeviceField = Annotated[
    str | None, Form(max_length=64, description="The `device_token` of an earlier sign-in from this client.")
]


def localised(request: Request, problem: ValidationProblem) -> ValidationProblem:
    """The problem with its field messages in the caller's language (Accept-Language: be, ru or en)."""
    lang = i18n.negotiate(request.headers.get("accept-language")) or i18n.DEFAULT_LANGUAGE
    with i18n.activated(lang):
        errors = [
            FieldError(field=str(e["field"]), message=i18n.gettext(str(e["message"])), type=str(e["type"]))
            for e in problem.extensions.get("errors", [])
        ]
    return ValidationProblem(errors)


@router.post("/token", response_model=TokenRead, responses=problem_responses(401, 422, 429))
def log_in(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    ctx: ContextDep,
    session: SessionDep,
    otp: OtpField = None,
    device_token: DeviceField = None,
) -> TokenRead:
    """Exchange username and password (and `otp`, when the account has a second factor) for a bearer token.

    Without `otp` such an account answers 401 with a problem of type `/problems/otp-required`.
    """
    result = auth_service.log_in(
        ctx=ctx,
        session=session,
        username=form.username,
        password=form.password,
        otp=otp,
        client=client_info(request, trust_proxy=ctx.settings.trust_proxy_headers, device_token=device_token),
    )
    session.commit()
    if isinstance(result, auth_service.CodeNeeded):
        raise auth_service.OtpRequired(
            "Send the code from your authenticator app (or a recovery code) as `otp`."
        )
    return TokenRead(
        access_token=result.token, expires_at=result.row.expires_at, device_token=result.device_token
    )


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
        needs_second_factor=actor.needs_second_factor,
    )


@router.post("/2fa/totp", response_model=TotpEnrolment, responses=problem_responses(401, 409))
def start_totp(actor: CurrentActor, ctx: ContextDep, session: SessionDep) -> TotpEnrolment:
    """Start TOTP enrolment: a new secret for the authenticator app, on once a code confirms it."""
    secret, uri = second_factor.start_totp_enrolment(ctx=ctx, session=session, actor=actor)
    session.commit()
    return TotpEnrolment(secret=secret, otpauth_uri=uri)


@router.post("/2fa/totp/confirm", response_model=RecoveryCodes, responses=problem_responses(401, 409, 422))
def confirm_totp(
    body: TotpConfirm, actor: CurrentActor, ctx: ContextDep, session: SessionDep
) -> RecoveryCodes:
    """Turn TOTP on with a first code; answers ten one-time recovery codes, shown this once."""
    codes = second_factor.confirm_totp(ctx=ctx, session=session, actor=actor, code=body.code)
    session.commit()
    return RecoveryCodes(recovery_codes=codes)


@router.get("/sessions", response_model=list[SessionRead], responses=problem_responses(401))
def list_sessions(actor: CurrentActor, session: SessionDep) -> list[SessionRead]:
    """Your live sessions and tokens: created, last used, client, coarse address."""
    return [
        SessionRead.model_validate(s) for s in sessions_service.list_sessions(session=session, actor=actor)
    ]


@router.delete("/sessions/{session_id}", status_code=204, responses=problem_responses(401, 404, 422))
def end_session(session_id: uuid.UUID, actor: CurrentActor, session: SessionDep) -> None:
    """End one of your sessions or tokens; it is refused from its next request on."""
    sessions_service.end_session(session=session, actor=actor, session_id=session_id)
    session.commit()


@router.delete("/sessions", response_model=SessionsEnded, responses=problem_responses(401))
def end_other_sessions(actor: CurrentActor, session: SessionDep) -> SessionsEnded:
    """End every session and token of yours except the one of this request."""
    ended = sessions_service.end_other_sessions(session=session, actor=actor)
    session.commit()
    return SessionsEnded(ended=ended)


@router.put("/duress-password", status_code=204, responses=problem_responses(401, 422))
def set_duress_password(
    request: Request, body: DuressPasswordSet, actor: CurrentActor, session: SessionDep
) -> None:
    """Set a duress password (see docs/accounts.md): it signs in to an empty workspace and alerts the admins."""
    try:
        duress_service.set_duress_password(
            session=session, actor=actor, password=body.password, duress_password=body.duress_password
        )
    except ValidationProblem as problem:
        raise localised(request, problem) from None
    session.commit()
