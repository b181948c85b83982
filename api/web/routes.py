"""The web interface's routes (no /api prefix): sign-in and out, language, dashboard, drafts, and the pages
of each domain. Routes stay thin: they read the form, call the services the API calls, and render.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.auth import service as auth_service
from api.auth.permissions import Permission
from api.auth.routes import client_address
from api.cases import service as cases_service
from api.deps import ContextDep, SessionDep
from api.problems import AuthenticationRequired, TooManyRequests
from api.web import i18n
from api.web import service as web_service
from api.web.common import draft_url, notice
from api.web.forms import FormState
from api.web.pages import admin, cases, clearing, evidence, exports, media_review, people, search
from api.web.routing import WebRoute, redirect
from api.web.session import (
    LANGUAGE_COOKIE,
    LANGUAGE_COOKIE_SECONDS,
    AnonymousForm,
    OptionalActor,
    SessionForm,
    WebActor,
    WebRequire,
    clear_session_cookie,
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
    """Check the credentials (throttled like the API's), start a browser session, go where the user was going."""
    username = str(form.get("username", ""))
    target = safe_next(str(form.get("next", "/")))
    state = FormState(values={"username": username})
    try:
        token, row = auth_service.log_in(
            ctx=ctx,
            session=session,
            username=username,
            password=str(form.get("password", "")),
            client=client_address(request, ctx.settings.trust_proxy_headers),
            kind="web",
        )
    except AuthenticationRequired:
        state.general.append(i18n.N_("Wrong username or password, or the account is disabled."))
        return render(request, "login.html", {"form": state, "next": target}, status_code=401)
    except TooManyRequests as exc:
        state.general.append(i18n.N_("Too many failed attempts. Wait a few minutes and try again."))
        refused = render(request, "login.html", {"form": state, "next": target}, status_code=429)
        refused.headers["Retry-After"] = str(exc.extensions.get("retry_after", 60))
        return refused
    response = redirect(target)
    set_session_cookie(response, request, token, row.expires_at)
    saved = web_service.saved_language(ctx=ctx, user_id=row.user_id)
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
