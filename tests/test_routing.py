"""Every route that reads the database gives its connection back before its worker thread (api.routing)."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.deps import get_session
from api.routing import SessionRoute


def _routes(app: Any) -> list[Any]:
    """Every route of the app, with those of included routers (which newer FastAPI keeps apart)."""
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # an older FastAPI copies included routes into app.routes
        return list(app.routes)
    return [context.original_route for context in iter_route_contexts(app.routes)]


def _uses_session(route: APIRoute) -> bool:
    return any(dependency.call is get_session for dependency in route.dependant.dependencies)


def test_every_plain_endpoint_with_a_session_closes_it_before_giving_its_thread_back(
    client: TestClient,
) -> None:
    routes = [route for route in _routes(client.app) if isinstance(route, APIRoute)]
    with_session = [route for route in routes if _uses_session(route)]
    assert len(with_session) > 50  # the API and the web pages, not an empty list passing by default
    missing = [
        f"{sorted(route.methods)} {route.path}"
        for route in with_session
        if not isinstance(route, SessionRoute) and not inspect.iscoroutinefunction(route.endpoint)
    ]
    # A router made without route_class=SessionRoute: its requests could hold a connection while they wait
    # for a thread, and time out under load (tests/hardening/test_concurrency.py).
    assert missing == []
