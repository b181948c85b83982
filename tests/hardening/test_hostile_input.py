"""Hostile input gets a clear problem response, never a 500, and loses nothing already stored."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.factories import API, create_case, ok

INJECTIONS = [
    "'; DROP TABLE case_record; --",
    '" OR 1=1 --',
    "%' OR '1'='1",
    "\\x00",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "A.LIB') OR ('a'='a",
    'NEAR("a" "b")',
    "*",
    "\u202e\u0000",
]


def _problem(response) -> dict:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
    return response.json()


class TestBodies:
    def test_deeply_nested_json_is_refused_cleanly(self, client: TestClient, documenter: Account) -> None:
        body = b"[" * 100_000 + b"]" * 100_000
        response = client.post(
            f"{API}/cases", content=body, headers={**documenter.headers, "Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500
        _problem(response)

    def test_an_oversized_json_body_is_a_413_and_stores_nothing(
        self, client: TestClient, documenter: Account
    ) -> None:
        body = {"title": "x", "country": "BY", "occurred_from": "2022", "narrative": "я" * 2_100_000}
        response = client.post(f"{API}/cases", json=body, headers=documenter.headers)
        assert response.status_code == 413
        _problem(response)
        assert ok(client.get(f"{API}/cases", headers=documenter.headers))["total"] == 0

    def test_a_chunked_body_over_the_limit_is_refused_without_content_length(
        self, client: TestClient, documenter: Account
    ) -> None:
        def chunks():
            yield b'{"title": "x", "country": "BY", "occurred_from": "2022", "narrative": "'
            for _ in range(40):
                yield b"a" * 65536
            yield b'"}'

        response = client.post(
            f"{API}/cases",
            content=chunks(),
            headers={**documenter.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 413
        assert ok(client.get(f"{API}/cases", headers=documenter.headers))["total"] == 0

    @pytest.mark.parametrize(
        "raw",
        [
            b"\xff\xfe\x00{",
            b'{"title": "\xed\xa0\x80"}',
            b'{"title": "\\ud800"}',
            b"null",
            b"[]",
            b'"x"',
            b"1e999999",
        ],
    )
    def test_invalid_utf8_and_wrong_json_shapes_are_422(
        self, client: TestClient, documenter: Account, raw: bytes
    ) -> None:
        response = client.post(
            f"{API}/cases", content=raw, headers={**documenter.headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 422, response.text
        _problem(response)

    def test_wrong_content_type_is_refused(self, client: TestClient, documenter: Account) -> None:
        response = client.post(
            f"{API}/cases",
            content=b"title=x",
            headers={**documenter.headers, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert 400 <= response.status_code < 500
        _problem(response)


class TestFilters:
    @pytest.mark.parametrize("value", INJECTIONS)
    def test_injection_strings_in_every_list_filter_are_harmless(
        self, client: TestClient, documenter: Account, value: str
    ) -> None:
        case = create_case(client, documenter)
        for name in ("status", "country", "category", "tag", "cursor", "limit", "mine"):
            _problem(client.get(f"{API}/cases", params={name: value}, headers=documenter.headers))
        for url in (f"{API}/people", f"{API}/organisations"):
            _problem(client.get(url, params={"q": value}, headers=documenter.headers))
        _problem(client.get(f"{API}/taxonomy", params={"q": value}, headers=documenter.headers))
        _problem(client.get(f"{API}/taxonomy/{quote(value, safe='')}", headers=documenter.headers))
        # everything stored is still there
        assert (
            ok(client.get(f"{API}/cases/{case['id']}", headers=documenter.headers))["title"] == case["title"]
        )

    def test_a_pseudonym_search_treats_like_wildcards_literally(
        self, client: TestClient, documenter: Account
    ) -> None:
        for name in ("Witness 100%", "Witness 1000"):
            ok(client.post(f"{API}/people", json={"pseudonym": name}, headers=documenter.headers), 201)
        page = ok(client.get(f"{API}/people", params={"q": "100%"}, headers=documenter.headers))
        assert [p["pseudonym"] for p in page["items"]] == ["Witness 100%"]
