"""RFC 9457 problem responses: one error root, rendered as application/problem+json.

Problem hierarchy (status in brackets; `type` is `/problems/<slug>`):

* ProblemError [500] internal-error
  x BadRequest [400] bad-request
  x AuthenticationRequired [401] unauthenticated
  x PermissionDenied [403] forbidden
  x NotFound [404] not-found                      (a record the caller may not see is also "not found")
  x Conflict [409] conflict
  x Gone [410] retracted
  x PreconditionFailed [412] stale-version         (If-Match does not match the current ETag)
  x PayloadTooLarge [413] payload-too-large
  x UnsupportedMediaType [415] unsupported-media-type
  x RangeNotSatisfiable [416] range-not-satisfiable
  x ValidationProblem [422] invalid-input          (carries `errors`: field, message, type)
  x PreconditionRequired [428] if-match-required
  x TooManyRequests [429] too-many-requests        (carries Retry-After)
  x IntegrityFailure [500] integrity-failure      (stored evidence no longer matches its digest, or the
                                                   custody ledger is broken; the bytes are never served)
  x ServiceUnavailable [503] unavailable

Below the route layer code raises these, never HTTPException. Unexpected exceptions become a bare 500
problem: no stack trace, no exception text in the response, and the log line carries no request data.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from schemas.problem import FieldError, Problem

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("precedent.problems")


class ProblemError(Exception):
    """Root of every error the API reports on purpose."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = extensions

    def to_problem(self, instance: str | None = None) -> Problem:
        """Render as an RFC 9457 body."""
        return Problem(
            type=f"/problems/{self.slug}",
            title=self.title,
            status=self.status,
            detail=self.detail,
            instance=instance,
            **self.extensions,
        )


class BadRequest(ProblemError):
    status, slug, title = 400, "bad-request", "Bad request"


class AuthenticationRequired(ProblemError):
    status, slug, title = 401, "unauthenticated", "Authentication required"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extensions)


class PermissionDenied(ProblemError):
    status, slug, title = 403, "forbidden", "Permission denied"


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(ProblemError):
    status, slug, title = 409, "conflict", "Conflict"


class Gone(ProblemError):
    status, slug, title = 410, "retracted", "Retracted"


class PreconditionFailed(ProblemError):
    status, slug, title = 412, "stale-version", "The record changed since you read it"


class PayloadTooLarge(ProblemError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaType(ProblemError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class RangeNotSatisfiable(ProblemError):
    status, slug, title = 416, "range-not-satisfiable", "Range not satisfiable"


class ValidationProblem(ProblemError):
    status, slug, title = 422, "invalid-input", "Invalid input"

    def __init__(self, errors: Iterable[FieldError], detail: str | None = None, **extensions: Any) -> None:
        errors = list(errors)
        if detail is None:
            detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or None
        super().__init__(detail, errors=[e.model_dump() for e in errors], **extensions)

    @classmethod
    def single(
        cls, field: str, message: str, type_: str = "value_error", **extensions: Any
    ) -> ValidationProblem:
        """Build a problem naming one offending field."""
        return cls([FieldError(field=field, message=message, type=type_)], **extensions)


class PreconditionRequired(ProblemError):
    status, slug, title = 428, "if-match-required", "If-Match header required"


class TooManyRequests(ProblemError):
    status, slug, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int, **extensions: Any) -> None:
        super().__init__(
            detail, headers={"Retry-After": str(retry_after)}, retry_after=retry_after, **extensions
        )


class IntegrityFailure(ProblemError):
    status, slug, title = 500, "integrity-failure", "Stored evidence failed verification"


class ServiceUnavailable(ProblemError):
    status, slug, title = 503, "unavailable", "Service unavailable"


def problem_response(problem: Problem, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """Serialise a problem with the RFC 9457 media type."""
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def _field_path(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc)


def validation_errors_to_fields(errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """Turn pydantic errors into field errors without echoing the rejected input (it may be personal data)."""
    fields = []
    for err in errors:
        message = str(err.get("msg", "invalid"))
        # Pydantic prefixes validator messages with "Value error, "; the field name already says enough.
        message = message.removeprefix("Value error, ")
        fields.append(
            FieldError(field=_field_path(err.get("loc", ())), message=message, type=str(err.get("type")))
        )
    return fields


_STATUS_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Internal error",
}


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the OpenAPI document declares for the path template matching `path`."""
    index = getattr(app.state, "allow_index", None)
    if index is None:
        index = [
            (re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$"), set(ops))
            for template, ops in app.openapi().get("paths", {}).items()
        ]
        app.state.allow_index = index
    methods: set[str] = set()
    for pattern, ops in index:
        if pattern.match(path):
            methods |= {m.upper() for m in ops}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error, expected or not, as application/problem+json."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.to_problem(instance=request.url.path), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problem = ValidationProblem(validation_errors_to_fields(exc.errors()))
        return problem_response(problem.to_problem(instance=request.url.path))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = _STATUS_TITLES.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        problem = Problem(
            type="about:blank", title=title, status=exc.status_code, detail=detail, instance=request.url.path
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 400 and request.method in ("POST", "PUT", "PATCH"):
            return problem_response(_unreadable_body(request).to_problem(instance=request.url.path))
        if exc.status_code == 405:
            # Starlette names only the first matching route's methods; RFC 9110 wants all of the resource's.
            allowed = _allowed_methods(app, request.url.path)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
        return problem_response(problem, headers)

    @app.exception_handler(sa.exc.DBAPIError)
    async def _database(request: Request, exc: sa.exc.DBAPIError) -> JSONResponse:
        if not exc.connection_invalidated:
            return await _unexpected(request, exc)
        # The database went away under this request (a restart, a failover). The pool reconnects, so a read may
        # be sent again; whether a write was saved is unknown (the loss may have come during or after COMMIT).
        log.warning("database connection lost in %s %s", request.method, _route(request))
        unavailable = ServiceUnavailable("The connection to the database was lost. Try again in a moment.")
        return problem_response(unavailable.to_problem(instance=request.url.path), {"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Frames only: exception messages can quote SQL parameters or rejected values (personal data).
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("unhandled %s in %s %s\n%s", type(exc).__name__, request.method, _route(request), frames)
        problem = Problem(type="/problems/internal-error", title="Internal error", status=500)
        return problem_response(problem)


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _unreadable_body(request: Request) -> ProblemError:
    """What a 400 from FastAPI's body parsing means: a form it would not parse, or a body that is not text."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() in _FORM_TYPES:
        # Starlette stops at 1,000 fields and 1 MiB per part (a flood of fields, one huge field).
        return BadRequest("The form could not be read: it has too many fields or one is too large.")
    # FastAPI answers 400 when the body is not even text (invalid UTF-8): report it as invalid input.
    return ValidationProblem.single("body", "the request body is not valid UTF-8 JSON", "json_invalid")


def _route(request: Request) -> str:
    """The route template, not the URL: query strings may carry names typed into a search box."""
    return str(getattr(request.scope.get("route"), "path", "?"))


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Declare problem responses for OpenAPI (`responses=` on a route)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        out[status] = {
            "model": Problem,
            "description": _STATUS_TITLES.get(status, "Problem"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out


def file_responses(
    *media_types: str, statuses: tuple[int, ...] = (401, 403, 404, 422)
) -> dict[int | str, dict[str, Any]]:
    """Declare a 200 carrying a file in one of `media_types`, and the usual problems, for OpenAPI."""
    out = problem_responses(*statuses)
    out[200] = {"description": "The file", "content": {m: {} for m in media_types}}
    return out
