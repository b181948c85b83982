"""`/docs`: the OpenAPI explorer (Swagger UI 5, which reads OpenAPI 3.1) served entirely from this server.

FastAPI's default page loads Swagger UI from a CDN and starts it with an inline script; here the files come
from the `swagger-ui-py` package and the start-up script is a local file, so the page works offline and under
a Content-Security-Policy that allows this origin only (plus `data:` images, which Swagger UI's stylesheet
uses for its icons). The online validator badge is switched off: it would send the schema elsewhere.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Only what the page loads; the package ships more (an editor) that is not served.
_ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Precedent API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<noscript><p>This page needs JavaScript. The OpenAPI document itself is at
<a href="{openapi_url}">{openapi_url}</a>.</p></noscript>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body>
</html>
"""


@lru_cache
def swagger_ui_dir() -> Path:
    """The folder of Swagger UI files inside the installed `swagger-ui-py` package (found without importing it)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def docs_router(openapi_url: str) -> APIRouter:
    """Routes of the explorer page and its files."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    def docs() -> HTMLResponse:
        """The OpenAPI explorer."""
        return HTMLResponse(
            _PAGE.format(openapi_url=openapi_url),
            headers={"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-store"},
        )

    @router.get("/docs/assets/{name}")
    def asset(name: str) -> FileResponse:
        """One of the explorer's files."""
        if name not in _ASSETS:
            raise HTTPException(status_code=404)
        return FileResponse(
            swagger_ui_dir() / name,
            media_type=_ASSETS[name],
            headers={"Cache-Control": "public, max-age=86400"},
        )

    return router
