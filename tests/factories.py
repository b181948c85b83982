"""Builders for records through the public API, so tests set up state the way users do."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Account

API = "/api/v1"


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    """Assert the status (showing the problem body on failure) and return the JSON."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()  # type: ignore[no-any-return]


def create_case(client: TestClient, who: Account, **fields: Any) -> dict[str, Any]:
    body = {
        "title": "Arrest of the union chair at Grodno Azot",
        "summary": "The chair of the primary organisation was detained after a meeting.",
        "country": "BY",
        "occurred_from": "2022-04-19",
        "date_precision": "day",
    }
    body.update(fields)
    return ok(client.post(f"{API}/cases", json=body, headers=who.headers), 201)


def create_person(client: TestClient, who: Account, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"pseudonym": "Witness K-7", "identity": {"full_name": "Аляксандр Ярашук"}}
    body.update(fields)
    return ok(client.post(f"{API}/people", json=body, headers=who.headers), 201)


def involve(client: TestClient, who: Account, case_id: str, **fields: Any) -> dict[str, Any]:
    return ok(client.post(f"{API}/cases/{case_id}/involvements", json=fields, headers=who.headers), 201)


def add_testimony(
    client: TestClient, who: Account, case_id: str, person_id: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "source_person_id": person_id,
        "language": "be",
        "text": "Яго затрымалі пасля сходу.",
        "taken_at": "2026-01-10",
    }
    body.update(fields)
    return ok(client.post(f"{API}/cases/{case_id}/testimonies", json=body, headers=who.headers), 201)


def patch(client: TestClient, who: Account, url: str, etag: str, **fields: Any) -> Any:
    return client.patch(url, json=fields, headers={**who.headers, "If-Match": etag})
