"""Small shared pieces of routes: the route class, If-Match, list paging parameters, ETag responses."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Query, Response
from fastapi.routing import APIRoute
from sqlmodel import Session

from api.db import must_commit
from api.records import etag


class SessionRoute(APIRoute):
    """A route whose plain (threadpool) endpoint is one unit of work: its write session is committed once when
    the endpoint returns, and every session is closed before the thread is given back.

    One transaction per use case: services flush and never commit, so a refusal anywhere in a request (a
    ProblemError, any exception) rolls back everything the request wrote, its custody and audit rows included
    (the audited door writes its reading records apart when a transaction ends uncommitted: api.identity.door).

    Closing before the thread is given back matters too: otherwise a request keeps its pooled connection until
    its response is validated, which waits for a worker thread; with every thread held by requests waiting for
    a connection, nothing moves until the pool times out (before this, 20 to 45 of 360 requests from 120
    readers at once got 500s). The dependency's own closing then has nothing to do.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _closing_sessions(endpoint)
        super().__init__(path, endpoint, **kwargs)


def _closing_sessions(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)  # FastAPI reads the parameters (and their annotations) through __wrapped__
    def run(*args: Any, **kwargs: Any) -> Any:
        sessions = [value for value in kwargs.values() if isinstance(value, Session)]
        try:
            result = endpoint(*args, **kwargs)
            # A page that answers a refusal itself (a form sent back with its errors) keeps nothing either.
            refused = isinstance(result, Response) and result.status_code >= 400
            for session in sessions:
                if must_commit(session) and not refused:
                    session.commit()
            return result
        finally:
            for session in sessions:
                session.close()

    return run


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The ETag from your last GET (e.g. `"v3"`). Required: a stale one gets 412, none gets 428.',
    ),
]
Cursor = Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]


def with_etag(response: Response, version: int) -> None:
    """Send the record's version as its ETag."""
    response.headers["ETag"] = etag(version)
