"""The FastAPI application: routers under /api/v1, RFC 9457 problems, security headers, health checks."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import migrate
from api.audit import denials
from api.audit.routes import router as audit_router
from api.auth.routes import router as auth_router
from api.cases.routes import router as cases_router
from api.clearing.routes import router as clearing_router
from api.config import Settings, get_settings
from api.context import AppContext
from api.custody.routes import router as custody_router
from api.evidence.routes import router as evidence_router
from api.exports.routes import case_router as export_case_router
from api.exports.routes import router as exports_router
from api.involvements.routes import router as involvements_router
from api.people.routes import organisations_router
from api.people.routes import router as people_router
from api.problems import (
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ProblemError,
    install_problem_handlers,
    problem_response,
)
from api.routing import SessionRoute
from api.search.routes import router as stats_router
from api.taxonomy.routes import router as taxonomy_router
from api.taxonomy.routes import vocabularies_router
from api.testimonies.routes import router as testimonies_router
from api.users.routes import router as users_router
from api.web import STATIC_DIR
from api.web.docs import docs_router
from api.web.routes import router as web_router

API_PREFIX = "/api/v1"
access_log = logging.getLogger("precedent.access")

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
_API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


class BodyLimitMiddleware:
    """Refuse request bodies over a limit with 413, counting streamed bytes, not trusting Content-Length."""

    def __init__(self, app: ASGIApp, *, limit: int, exempt: Callable[[Scope], bool]) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exempt(scope):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        overflow = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal seen, overflow
            if overflow:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # Tell the app the client went away, and answer 413 ourselves below.
                    overflow = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if overflow:
                return  # the app's answer to a truncated body is replaced by the 413
            response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not overflow:
                raise
        if overflow and not response_started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = PayloadTooLarge(f"Request bodies here are limited to {self.limit} bytes.").to_problem(
            instance=scope.get("path")
        )
        await problem_response(problem)(scope, receive, send)


class SecurityHeadersAndAccessLog:
    """Add the security headers to every response and log one line per request (route template, status, time).

    Plain ASGI rather than Starlette's BaseHTTPMiddleware, which starts and cancels a task group for every
    message of a request body: about half a CPU-second per GiB uploaded (measured, bench/bench_upload.py).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in _SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if path.startswith(API_PREFIX):
                    headers.setdefault("Content-Security-Policy", _API_CSP)
                    headers.setdefault("Cache-Control", "no-store")
                if scope.get("scheme") == "https":
                    headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            # The route template, never the URL: paths and query strings can carry names and search terms.
            template = getattr(route, "path", "-")
            if path.startswith(API_PREFIX) and not template.startswith(API_PREFIX):
                template = (
                    API_PREFIX + template
                )  # routers included under the API prefix report their own path
            access_log.info(
                "%s %s %d %.1fms",
                scope.get("method", "-"),
                template,
                status,
                (time.perf_counter() - started) * 1000,
            )


def _health_router(ctx_getter: Callable[[], AppContext]) -> APIRouter:
    router = APIRouter(route_class=SessionRoute, tags=["health"])

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @router.get("/readyz", responses={503: {"description": "Database unreachable or not migrated"}})
    def readyz(response: Response) -> dict[str, Any]:
        """The database is reachable and migrated to the revision this code expects."""
        ctx = ctx_getter()
        head = migrate.head_revision()
        try:
            with ctx.db.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
                current = migrate.current_revision(conn)
        except sa.exc.DBAPIError:
            response.status_code = 503
            return {"status": "unavailable", "database": "unreachable"}
        if current != head:
            response.status_code = 503
            return {
                "status": "unavailable",
                "database": "not migrated",
                "revision": current,
                "expected": head,
            }
        return {"status": "ok", "revision": current}

    return router


def _install_denial_handler(app: FastAPI) -> None:
    """Answer 403 and 404 problems as every problem is answered, after writing them to the audit log."""

    @app.exception_handler(PermissionDenied)
    @app.exception_handler(NotFound)
    async def _denied(request: Request, exc: ProblemError) -> Response:
        await denials.record_denial(request, exc)
        return problem_response(exc.to_problem(instance=request.url.path), exc.headers)


def create_app(settings: Settings | None = None, *, ctx: AppContext | None = None) -> FastAPI:
    """Build the application for `settings` (read from the environment when not given)."""
    settings = settings or (ctx.settings if ctx else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = app.state.ctx is None
        if own:
            app.state.ctx = AppContext.build(settings)
        # Uploads cut short by a killed process leave temporary files; no live upload is touched (flock).
        await run_in_threadpool(app.state.ctx.remove_abandoned_uploads)
        try:
            yield
        finally:
            if own:
                app.state.ctx.close()
                app.state.ctx = None

    app = FastAPI(
        title="Precedent",
        version="0.1.0",
        summary="Documentation database for labour-rights violations, with verifiable evidence custody.",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        # /docs is served by api.web.docs with local files (FastAPI's default page loads them from a CDN).
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    install_problem_handlers(app)
    _install_denial_handler(app)

    api = APIRouter(route_class=SessionRoute, prefix=API_PREFIX)
    for router in (
        auth_router,
        users_router,
        cases_router,
        involvements_router,
        testimonies_router,
        people_router,
        organisations_router,
        taxonomy_router,
        vocabularies_router,
        exports_router,
        export_case_router,
        evidence_router,
        custody_router,
        stats_router,
        audit_router,
        clearing_router,
    ):
        api.include_router(router)
    app.include_router(api)
    app.include_router(_health_router(lambda: app.state.ctx))
    app.include_router(docs_router(f"{API_PREFIX}/openapi.json"))
    app.include_router(web_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    app.add_middleware(SecurityHeadersAndAccessLog)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_json_bytes,
        exempt=lambda scope: scope.get("path", "").endswith(("/evidence", "/content")),
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "PUT"],
            allow_headers=["Authorization", "Content-Type", "If-Match"],
            expose_headers=["ETag", "Location"],
        )
    return app


def app_factory() -> FastAPI:
    """Entry point for uvicorn workers: settings from the environment."""
    return create_app(get_settings())
