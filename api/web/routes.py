"""The web interface's routes (no /api prefix): sign-in and out, language, dashboard, drafts, and the pages
of each domain. Routes stay thin: they read the form, call the services the API calls, and render.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api import i18n
from api.auth import service as auth_service
from api.auth.clients import ClientInfo, client_info
from api.auth.permissions import Permission
from api.cases import service as cases_service
from api.context import AppContext
from api.deps import ContextDep, SessionDep
from api.problems import AuthenticationRequired, TooManyRequests
from api.web import service as web_service
from api.web.common import draft_url, notice
from api.web.forms import FormState
from api.web.pages import account, admin, cases, clearing, evidence, exports, media_review, people, search
from api.web.routing import WebRoute, redirect
from api.web.session import (
    CHALLENGE_COOKIE,
    DEVICE_COOKIE,
    LANGUAGE_COOKIE,
    LANGUAGE_COOKIE_SECONDS,
    AnonymousForm,
    OptionalActor,
    SessionForm,
    WebActor,
    WebRequire,
    clear_session_cookie,
    is_https,
    safe_next,
    set_cookie,
    set_session_cookie,
)
from api.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/login")
def login_page(request: Request, actor: OptionalActor, next: str = "/") -> Response:
    """The sign-in form (or, when already signed in, straight on)."""
    if actor is not None:
        return redirect(safe_next(next))
    return render(
        request, "login.html", {"next": safe_next(next), "notice": notice(request.query_params.get("notice"))}
    )


@router.post("/login")
def log_in(request: Request, form: AnonymousForm, ctx: ContextDep, session: SessionDep) -> Response:
    """Check the password (throttled like the API's); ask for the code next, or start the browser session."""
    username = str(form.get("username", ""))
    target = safe_next(str(form.get("next", "/")))
    state = FormState(values={"username": username})
    try:
        result = auth_service.log_in(
            ctx=ctx,
            session=session,
            username=username,
            password=str(form.get("password", "")),
            client=_client(request, ctx),
            kind="web",
        )
    except AuthenticationRequired:
        state.general.append(i18n.N_("Wrong username or password, or the account is disabled."))
        return render(request, "login.html", {"form": state, "next": target}, status_code=401)
    except TooManyRequests as exc:
        return _too_many(request, "login.html", state, target, exc)
    session.commit()
    if isinstance(result, auth_service.CodeNeeded):
        page = render(request, "login_code.html", {"next": target})
        set_cookie(
            page,
            request,
            CHALLENGE_COOKIE,
            result.challenge or "",
            max_age=int(auth_service.CHALLENGE_TTL.total_seconds()),
        )
        return page
    return _signed_in(request, ctx, result, target)


@router.get("/login/code")
def login_code_page(request: Request, actor: OptionalActor, next: str = "/") -> Response:
    """The second step of signing in: the code from the authenticator app, or a recovery code."""
    if actor is not None:
        return redirect(safe_next(next))
    if not request.cookies.get(CHALLENGE_COOKIE):
        return redirect("/login?notice=sign_in_expired")
    return render(request, "login_code.html", {"next": safe_next(next)})


@router.post("/login/code")
def log_in_with_code(request: Request, form: AnonymousForm, ctx: ContextDep, session: SessionDep) -> Response:
    """Finish signing in with a code (throttled like the password); a wrong code shows the form again."""
    target = safe_next(str(form.get("next", "/")))
    state = FormState()
    try:
        result = auth_service.finish_with_code(
            ctx=ctx,
            session=session,
            challenge=request.cookies.get(CHALLENGE_COOKIE, ""),
            otp=str(form.get("otp", "")).strip(),
            client=_client(request, ctx),
        )
    except AuthenticationRequired as exc:
        if exc.detail != auth_service.WRONG_CREDENTIALS:
            return redirect("/login?notice=sign_in_expired")
        state.general.append(i18n.N_("The code is wrong or was already used. Try the next code."))
        return render(request, "login_code.html", {"form": state, "next": target}, status_code=401)
    except TooManyRequests as exc:
        return _too_many(request, "login_code.html", state, target, exc)
    session.commit()
    response = _signed_in(request, ctx, result, target)
    response.delete_cookie(
        CHALLENGE_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request)
    )
    return response


def _client(request: Request, ctx: AppContext) -> ClientInfo:
    return client_info(
        request, trust_proxy=ctx.settings.trust_proxy_headers, device_token=request.cookies.get(DEVICE_COOKIE)
    )


def _too_many(
    request: Request, template: str, state: FormState, target: str, exc: TooManyRequests
) -> Response:
    state.general.append(i18n.N_("Too many failed attempts. Wait a few minutes and try again."))
    refused = render(request, template, {"form": state, "next": target}, status_code=429)
    refused.headers["Retry-After"] = str(exc.extensions.get("retry_after", 60))
    return refused


def _signed_in(request: Request, ctx: AppContext, result: auth_service.SignedIn, target: str) -> Response:
    """Start the browser session; lead a role that must have a second factor and has none to enrolment."""
    if result.needs_second_factor:
        target = "/account/2fa?notice=second_factor_needed"
    response = redirect(target)
    set_session_cookie(response, request, result.token, result.row.expires_at)
    set_cookie(
        response, request, DEVICE_COOKIE, result.device_token, max_age=auth_service.DEVICE_TOKEN_DAYS * 86400
    )
    saved = web_service.saved_language(ctx=ctx, user_id=result.row.user_id)
    if saved in i18n.LANGUAGES:
        set_cookie(response, request, LANGUAGE_COOKIE, saved, max_age=LANGUAGE_COOKIE_SECONDS)
    return response


@router.post("/logout")
def log_out(request: Request, form: SessionForm, actor: WebActor, session: SessionDep) -> Response:
    """End the browser session: the token is revoked on the server, not only forgotten by the browser."""
    auth_service.revoke_token(session=session, actor=actor)
    response = redirect("/login?notice=signed_out")
    clear_session_cookie(response, request)
    return response


@router.post("/language")
def switch_language(
    request: Request, form: AnonymousForm, actor: OptionalActor, session: SessionDep
) -> Response:
    """Switch the interface language; remembered for the account when signed in, else in a cookie."""
    lang = str(form.get("lang", ""))
    response = redirect(safe_next(str(form.get("next", "/"))))
    if lang not in i18n.LANGUAGES:
        return response
    if actor is not None:
        web_service.save_language(session=session, actor=actor, language=lang)
    set_cookie(response, request, LANGUAGE_COOKIE, lang, max_age=LANGUAGE_COOKIE_SECONDS)
    return response


@router.get("/")
def dashboard(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    actor: Annotated[WebActor, Depends(WebRequire(Permission.CASE_READ))],
) -> Response:
    """My cases, my drafts, the latest cases I can see, and my own latest changes."""
    recent = cases_service.list_cases(
        session=session,
        actor=actor,
        filters=cases_service.CaseListFilters(),
        cursor=None,
        limit=8,
        secret=ctx.secret,
    )
    mine = cases_service.list_cases(
        session=session,
        actor=actor,
        filters=cases_service.CaseListFilters(mine=True),
        cursor=None,
        limit=8,
        secret=ctx.secret,
    )
    return render(
        request,
        "dashboard.html",
        {
            "my_cases": mine,
            "recent_cases": recent,
            "drafts": web_service.list_drafts(session=session, actor=actor, sealer=ctx.sealer),
            "activity": web_service.recent_activity(session=session, actor=actor),
            "notice": notice(request.query_params.get("notice")),
        },
    )


@router.get("/drafts/{draft_id}")
def open_draft(draft_id: uuid.UUID, ctx: ContextDep, session: SessionDep, actor: WebActor) -> Response:
    """Go to the form a draft belongs to, filled with what was saved."""
    draft = web_service.get_draft(session=session, actor=actor, sealer=ctx.sealer, draft_id=draft_id)
    return redirect(draft_url(draft))


@router.post("/drafts/{draft_id}/discard")
def discard_draft(draft_id: uuid.UUID, form: SessionForm, session: SessionDep, actor: WebActor) -> Response:
    """Throw a draft away."""
    web_service.discard_draft(session=session, actor=actor, draft_id=draft_id)
    return redirect("/?notice=draft_discarded")


router.include_router(cases.router)
router.include_router(evidence.router)
router.include_router(search.router)
router.include_router(exports.router)
router.include_router(clearing.router)
router.include_router(media_review.router)
router.include_router(people.router)
router.include_router(admin.router)
router.include_router(account.router)
