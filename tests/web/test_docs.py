"""The API explorer at /docs works offline: its files come from this server, under a self-only policy."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_docs_load_nothing_from_elsewhere(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls)
    assert "<script>" not in page.text  # no inline script: the start-up code is a file
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
    assert "frame-ancestors 'none'" in csp


def test_docs_files_are_served_and_nothing_else_from_the_package(client: TestClient) -> None:
    bundle = client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and bundle.headers["content-type"].startswith("text/javascript")
    assert len(bundle.content) > 100_000
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200
    assert client.get("/static/docs.js").status_code == 200
    assert client.get("/docs/assets/swagger-editor-bundle.js").status_code == 404
    assert client.get("/docs/assets/..%2F__init__.py").status_code == 404


def test_docs_point_at_the_openapi_document(client: TestClient) -> None:
    assert 'data-openapi-url="/api/v1/openapi.json"' in client.get("/docs").text
    assert client.get("/api/v1/openapi.json").json()["openapi"].startswith("3.1")
    # Pages are not part of the API description.
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert not {"/", "/login", "/cases", "/docs", "/people"} & set(paths)
