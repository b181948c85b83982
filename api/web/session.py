"""Browser sessions and CSRF protection.

A signed-in browser holds one cookie, `precedent_session`: an opaque random token stored only as a keyed hash
(`ApiToken`, kind "web"), HttpOnly, SameSite=Lax, Secure over HTTPS, expiring with the token and revoked by
signing out. The API never reads it (bearer tokens only), and a "web" token is refused as a bearer token.

Every form carries a synchronizer token (OWASP CSRF cheat sheet): an HMAC of the session's token id under the
server secret, so it needs no storage, dies with the session and cannot be computed by another site. Forms
shown before signing in (sign-in, language) use a double-submit cookie instead. On top of the token, a POST
whose Origin (or, without one, Referer) names another site is refused.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api import i18n
from api.auth import service as auth_service
from api.auth.permissions import Permission
from api.auth.security import Actor, keyed_hash
from api.deps import ContextDep
from api.problems import BadRequest, PermissionDenied, ProblemError
from api.web import service as web_service

SESSION_COOKIE = "precedent_session"
# Half a sign-in: the password was right, the code is still to come (a "challenge" token, 5 minutes).
CHALLENGE_COOKIE = "precedent_challenge"
# The browser's device token: its failed sign-ins count apart from everyone else's (api.auth.throttle).
DEVICE_COOKIE = "precedent_device"
ANON_CSRF_COOKIE = "precedent_csrf"
LANGUAGE_COOKIE = "precedent_lang"
CSRF_FIELD = "csrf_token"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


class LoginRequired(ProblemError):
    """No valid session: the page answers with a redirect to the sign-in form."""

    status, slug, title = 401, "login-required", "Sign in required"


class CsrfRefused(ProblemError):
    """The form's token is missing or wrong, or the request came from another site."""

    status, slug, title = 403, "csrf", "Form refused"


@dataclass
class WebState:
    """What a page needs to know about its request: who, in which language, and the form token."""

    lang: str
    actor: Actor | None = None
    csrf_token: str = ""
    set_anon_csrf: bool = False
    # For admins: accounts whose duress password was used (a banner on every page until lifted).
    duress_alerts: list[str] = field(default_factory=list)


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, *, max_age: int | None) -> None:
    """Set a cookie with the flags every Precedent cookie carries."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def set_session_cookie(response: Response, request: Request, token: str, expires_at: datetime) -> None:
    """Hand the browser its session token; the cookie expires with the token."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        expires=expires_at,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request))


def csrf_token_for(secret: bytes, actor: Actor) -> str:
    """The synchronizer token of a session: bound to its token id, unguessable without the server secret."""
    return keyed_hash(secret, "web-csrf", str(actor.token_id))


def _anonymous_state(request: Request) -> WebState:
    cookie = request.cookies.get(ANON_CSRF_COOKIE, "")
    fresh = len(cookie) < 32
    token = secrets.token_urlsafe(32) if fresh else cookie
    lang = i18n.choose_language(
        saved=None,
        cookie=request.cookies.get(LANGUAGE_COOKIE),
        accept_language=request.headers.get("accept-language"),
    )
    return WebState(lang=lang, csrf_token=token, set_anon_csrf=fresh)


def web_state(request: Request) -> WebState:
    """Return the state set by the dependencies, or an anonymous one (for pages that fail before them)."""
    state = getattr(request.state, "web", None)
    if state is None:
        state = _anonymous_state(request)
        request.state.web = state
    return state


def get_optional_actor(request: Request, ctx: ContextDep) -> Actor | None:
    """Authenticate the session cookie if there is one; set the page language either way."""
    token = request.cookies.get(SESSION_COOKIE)
    actor = (
        auth_service.actor_for_token(ctx=ctx, token=token, kinds=auth_service.WEB_KINDS) if token else None
    )
    if actor is None:
        request.state.web = _anonymous_state(request)
        return None
    saved = web_service.saved_language(ctx=ctx, user_id=actor.user_id)
    lang = i18n.choose_language(
        saved=saved,
        cookie=request.cookies.get(LANGUAGE_COOKIE),
        accept_language=request.headers.get("accept-language"),
    )
    # Never to an account in duress itself: the person forcing it must not learn of the alert.
    admin = actor.can(Permission.USER_MANAGE) and not actor.duress
    alerts = web_service.accounts_in_duress(ctx=ctx) if admin else []
    request.state.web = WebState(
        lang=lang, actor=actor, csrf_token=csrf_token_for(ctx.secret, actor), duress_alerts=alerts
    )
    return actor


OptionalActor = Annotated[Actor | None, Depends(get_optional_actor)]


def get_web_actor(actor: OptionalActor) -> Actor:
    """The signed-in user, or a redirect to the sign-in page."""
    if actor is None:
        raise LoginRequired()
    return actor


WebActor = Annotated[Actor, Depends(get_web_actor)]


class WebRequire:
    """Guard for pages: the user must hold every listed permission, else a 403 page."""

    def __init__(self, *permissions: Permission) -> None:
        self.permissions = permissions

    def __call__(self, actor: WebActor) -> Actor:
        if any(not actor.can(p) for p in self.permissions):
            raise PermissionDenied("Your role does not allow this page.")
        return actor


def _same_origin(request: Request, value: str) -> bool:
    parts = urlsplit(value)
    return (parts.scheme, parts.netloc) == (request.url.scheme, request.url.netloc)


def check_origin(request: Request) -> None:
    """Refuse a POST that names another site as its Origin, or lacking Origin, as its Referer."""
    origin = request.headers.get("origin")
    if origin is not None:
        if not _same_origin(request, origin):
            raise CsrfRefused("This form was sent from another site.")
        return
    referer = request.headers.get("referer")
    if referer is not None and not _same_origin(request, referer):
        raise CsrfRefused("This form was sent from another site.")


async def _read_form(request: Request) -> FormData:
    """The posted form; one Starlette refuses to parse (over 1,000 fields, a part over 1 MiB) is a 400 page."""
    try:
        return await request.form()
    except StarletteHTTPException as exc:
        raise BadRequest("The form could not be read: it has too many fields or one is too large.") from exc


async def session_form(request: Request, actor: WebActor) -> FormData:  # noqa: ARG001 (signed in first)
    """The posted form of a signed-in user, after the origin and synchronizer-token checks."""
    check_origin(request)
    form = await _read_form(request)
    expected = web_state(request).csrf_token
    given = form.get(CSRF_FIELD)
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfRefused("The form is out of date. Go back, reload the page and send it again.")
    return form


async def anonymous_form(request: Request, actor: OptionalActor) -> FormData:
    """A form posted before (or regardless of) signing in: origin check plus the double-submit cookie."""
    check_origin(request)
    form = await _read_form(request)
    given = form.get(CSRF_FIELD)
    expected = (
        web_state(request).csrf_token if actor is not None else request.cookies.get(ANON_CSRF_COOKIE, "")
    )
    if (
        not isinstance(given, str)
        or len(expected) < 32
        or not hmac.compare_digest(given.encode(), expected.encode())
    ):
        raise CsrfRefused("The form is out of date. Go back, reload the page and send it again.")
    return form


SessionForm = Annotated[FormData, Depends(session_form)]
AnonymousForm = Annotated[FormData, Depends(anonymous_form)]


def safe_next(target: str | None) -> str:
    """Return a local path to go to after signing in; anything else (another site) becomes the dashboard."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target
