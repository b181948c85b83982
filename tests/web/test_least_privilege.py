"""Least privilege, as a new documenter and a researcher would find it (issue 21): who took a testimony is
recorded as it was, and researchers see who recorded a case only by role, never by account name."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.factories import API, add_testimony, create_case, create_person, ok
from tests.web.conftest import sign_in


def test_only_a_coordinator_records_a_testimony_taken_by_someone_else(
    client: TestClient, documenter: Account, documenter2: Account, coordinator: Account
) -> None:
    case = create_case(client, coordinator)
    person = create_person(client, coordinator)
    body = {
        "source_person_id": person["id"],
        "language": "be",
        "text": "Яго затрымалі.",
        "taken_at": "2026-01-10",
        "taken_by": str(documenter2.user_id),
    }
    mine = create_case(client, documenter)
    witness = create_person(client, documenter)
    refused = client.post(
        f"{API}/cases/{mine['id']}/testimonies",
        json={**body, "source_person_id": witness["id"]},
        headers=documenter.headers,
    )
    assert refused.status_code == 403, refused.text
    assert ok(client.get(f"{API}/cases/{mine['id']}/testimonies", headers=documenter.headers)) == []
    own = add_testimony(client, documenter, mine["id"], witness["id"], taken_by=str(documenter.user_id))
    assert own["taken_by"] == str(documenter.user_id)
    recorded = ok(
        client.post(f"{API}/cases/{case['id']}/testimonies", json=body, headers=coordinator.headers), 201
    )
    assert recorded["taken_by"] == str(documenter2.user_id)


def test_a_researcher_sees_who_recorded_a_case_by_role_only(
    client: TestClient, browser: TestClient, documenter: Account, researcher: Account
) -> None:
    case = create_case(client, documenter)
    person = create_person(client, documenter)
    add_testimony(client, documenter, case["id"], person["id"])
    page = sign_in(browser, researcher).get(f"/cases/{case['id']}")
    assert page.status_code == 200
    assert documenter.username not in page.text
    assert "Recorded by Documenter" in page.text
    history = browser.get(f"/cases/{case['id']}/history")
    assert history.status_code == 200 and documenter.username not in history.text
