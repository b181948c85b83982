"""How pages answer when something goes wrong: never a stack trace, never problem+json, always a page.

Problem errors raised by services (404 for a record one may not see, 403, 409 for a retracted record, 429
for too many sign-in attempts) become an error page in the user's language; a missing session becomes a
redirect to the sign-in form that comes back to the page afterwards.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse

from api.audit import denials
from api.i18n import N_
from api.problems import ProblemError
from api.routing import SessionRoute
from api.web.session import LoginRequired, web_state
from api.web.templating import render

log = logging.getLogger("precedent.web")

_ERROR_TITLES = {
    400: N_("The request could not be understood"),
    403: N_("You may not do this"),
    404: N_("Not found"),
    409: N_("This cannot be changed now"),
    410: N_("This record was retracted"),
    412: N_("Someone else changed this record"),
    413: N_("Too much data was sent"),
    422: N_("Some of the input is not valid"),
    429: N_("Too many attempts"),
    500: N_("Something went wrong on the server"),
    503: N_("The service is not available"),
}
_ERROR_ADVICE = {
    403: N_("Your role does not allow this, or the form was sent from elsewhere. Go back and try again."),
    404: N_("There is nothing here that you can see. It may not exist, or it may not be shared with you."),
    409: N_("The record was retracted or already changed this way."),
    429: N_("Wait a little and try again."),
    500: N_("Your input was not lost if you saved a draft. Try again in a moment."),
}


def redirect(url: str) -> RedirectResponse:
    """See-other redirect (after a POST, the browser fetches the next page with GET)."""
    return RedirectResponse(url, status_code=303)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = "/"
    return redirect("/login?" + urlencode({"next": target}))


def error_page(request: Request, status: int, *, retry_after: int | None = None) -> Response:
    """Render the error page for `status`."""
    response = render(
        request,
        "error.html",
        {
            "status": status,
            "title": _ERROR_TITLES.get(status, _ERROR_TITLES[400]),
            "advice": _ERROR_ADVICE.get(status),
        },
        status_code=status,
    )
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


class WebRoute(SessionRoute):
    """A page route: problems become error pages and a missing session a redirect to sign in."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        path = self.path

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return login_redirect(request)
            except ProblemError as exc:
                await denials.record_denial(request, exc, actor=web_state(request).actor)
                retry = exc.extensions.get("retry_after")
                return error_page(request, exc.status, retry_after=retry if isinstance(retry, int) else None)
            except RequestValidationError:
                # Only path and query parameters are declared on pages: a malformed id is a missing page.
                return error_page(request, 404)
            except Exception as exc:
                if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
                    # The database went away under this page (as api.problems answers the API): try again.
                    log.warning("database connection lost in %s %s", request.method, path)
                    return error_page(request, 503, retry_after=1)
                # Frames only and the route template: messages and URLs can carry names (see api.problems).
                frames = "".join(traceback.format_tb(exc.__traceback__))
                log.error("unhandled %s in %s %s\n%s", type(exc).__name__, request.method, path, frames)
                return error_page(request, 500)

        return page_handler
