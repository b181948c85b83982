"""GET /api/v1/audit: admins read the audit log, filtered by actor, action, object and period, a page at a time
or as CSV; nobody else reads it, and what it shows are ids, never the names it records reading."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_identity_door import last_event_id
from tests.conftest import Account
from tests.factories import API, create_case, create_person, ok

AUDIT = f"{API}/audit"
NAME = "Аляксандр Ярашук"


def audit(client: TestClient, admin: Account, **params: Any) -> dict[str, Any]:
    return ok(client.get(AUDIT, params=params, headers=admin.headers))


@pytest.fixture
def traffic(
    client: TestClient, documenter: Account, coordinator: Account, researcher: Account
) -> dict[str, Any]:
    """A documenter records two people; a coordinator reads both identities; a researcher is refused a case."""
    first = create_person(client, documenter, pseudonym="Witness B-1", identity={"full_name": NAME})
    second = create_person(client, documenter, pseudonym="Witness B-2", identity={"full_name": "Іна Ярашук"})
    case = create_case(client, documenter)
    midway = datetime.now(UTC)
    for person in (first, second):
        ok(client.get(f"{API}/people/{person['id']}", headers=coordinator.headers))
    ok(client.get(f"{API}/people", headers=coordinator.headers))  # one event for the whole list
    refused = client.patch(
        f"{API}/cases/{case['id']}", json={"title": "x"}, headers={**researcher.headers, "If-Match": '"v1"'}
    )
    assert refused.status_code == 403
    return {"first": first["id"], "second": second["id"], "case": case["id"], "midway": midway}


@pytest.mark.parametrize("role", ["coordinator", "documenter", "researcher"])
def test_only_admins_read_the_audit_log(client: TestClient, accounts: dict[str, Account], role: str) -> None:
    response = client.get(AUDIT, headers=accounts[role].headers)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    # Even the attempt is in the log.
    denied = audit(client, accounts["admin"], action="access.denied", actor=str(accounts[role].user_id))
    assert denied["items"][0]["details"]["route"] == "/api/v1/audit"


def test_filter_by_actor_and_action_prefix(
    client: TestClient, admin: Account, coordinator: Account, traffic: dict[str, Any]
) -> None:
    page = audit(client, admin, actor=str(coordinator.user_id), action="identity.")
    assert [e["action"] for e in page["items"]] == ["identity.read"] * 3
    assert {e["actor_username"] for e in page["items"]} == {"coordinator"}
    assert {e["actor_role"] for e in page["items"]} == {"coordinator"}
    # Newest first: the list read last comes first, naming both people.
    assert {traffic["first"], traffic["second"]} <= set(page["items"][0]["details"]["ids"])


def test_filter_by_object_finds_single_reads_and_the_lists_that_held_it(
    client: TestClient, admin: Account, coordinator: Account, traffic: dict[str, Any]
) -> None:
    page = audit(
        client,
        admin,
        target_type="person",
        target_id=traffic["first"],
        action="identity.read",
        actor=str(coordinator.user_id),
    )
    assert len(page["items"]) == 2
    listed, single = page["items"]  # newest first: the list came after the person's own page
    assert single["target_id"] == traffic["first"]
    assert listed["target_id"] is None and traffic["first"] in listed["details"]["ids"]
    # Without the actor: the documenter's answer to recording the person showed the identity too.
    everyone = audit(client, admin, target_id=traffic["first"], action="identity.read")
    assert [e["actor_username"] for e in everyone["items"]] == ["coordinator", "coordinator", "documenter"]
    denials = audit(client, admin, target_type="case", target_id=traffic["case"])
    assert [e["action"] for e in denials["items"]] == ["access.denied"]


def test_filter_by_period(client: TestClient, admin: Account, traffic: dict[str, Any]) -> None:
    since = traffic["midway"].isoformat()
    later = audit(client, admin, action="identity.read", **{"from": since})
    assert len(later["items"]) == 3
    assert {e["actor_username"] for e in later["items"]} == {"coordinator"}
    # Before it: only the answers to recording the two people, which showed their identities.
    earlier = audit(client, admin, action="identity.read", to=since)
    assert [e["actor_username"] for e in earlier["items"]] == ["documenter", "documenter"]
    today = datetime.now(UTC).date()
    # A day counts whole, at either end.
    assert len(audit(client, admin, action="identity.read", **{"from": today.isoformat()})["items"]) == 5
    assert len(audit(client, admin, action="identity.read", to=today.isoformat())["items"]) == 5
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert audit(client, admin, **{"from": tomorrow})["items"] == []


def test_pages_follow_the_cursor_without_gaps_or_repeats(
    client: TestClient, admin: Account, traffic: dict[str, Any]
) -> None:
    whole = audit(client, admin, limit=500)
    seen: list[int] = []
    cursor = None
    while True:
        page = audit(client, admin, limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [e["id"] for e in whole["items"]]
    assert seen == sorted(seen, reverse=True)
    assert page["total"] == len(seen)


def test_a_cursor_works_only_with_the_filters_it_was_made_with(
    client: TestClient, admin: Account, traffic: dict[str, Any]
) -> None:
    page = audit(client, admin, action="identity.read", limit=1)
    other = client.get(
        AUDIT, params={"action": "access.", "cursor": page["next_cursor"]}, headers=admin.headers
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "query.cursor"
    tampered = client.get(AUDIT, params={"cursor": page["next_cursor"][:-2] + "AA"}, headers=admin.headers)
    assert tampered.status_code == 422


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "query.from"),
        ({"to": "2026-13-01"}, "query.to"),
        ({"actor": "admin"}, "query.actor"),
        ({"action": "identity'; --"}, "query.action"),
        ({"limit": "0"}, "query.limit"),
        ({"format": "xml"}, "query.format"),
        ({"who": "admin"}, "query.who"),
    ],
)
def test_bad_filters_are_422_problems_naming_the_parameter(
    client: TestClient, admin: Account, params: dict[str, str], field: str
) -> None:
    response = client.get(AUDIT, params=params, headers=admin.headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    # Rejected values are never echoed back.
    assert all(value not in response.json()["detail"] for value in params.values() if len(value) > 2)


def test_a_period_that_ends_before_it_starts_is_refused(client: TestClient, admin: Account) -> None:
    response = client.get(AUDIT, params={"from": "2026-03-02", "to": "2026-03-01"}, headers=admin.headers)
    assert response.status_code == 422


def test_csv_streams_every_matching_event(
    client: TestClient, admin: Account, coordinator: Account, traffic: dict[str, Any]
) -> None:
    response = client.get(
        AUDIT, params={"format": "csv", "actor": str(coordinator.user_id), "limit": 1}, headers=admin.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    as_json = audit(client, admin, actor=str(coordinator.user_id), limit=500)["items"]
    assert [int(r["id"]) for r in rows] == [e["id"] for e in as_json]  # every event, not a page of one
    assert {r["actor_username"] for r in rows} == {"coordinator"}
    assert {r["action"] for r in rows} == {"identity.read"}
    assert traffic["first"] in {r["target_id"] for r in rows}


def test_csv_with_many_events_comes_in_batches_and_stops_at_its_start(
    client: TestClient, admin: Account, coordinator: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.audit import service as audit_service

    monkeypatch.setattr(audit_service, "CSV_BATCH", 2)
    person = create_person(client, coordinator, identity={"full_name": NAME})
    for _ in range(5):
        ok(client.get(f"{API}/people/{person['id']}", headers=coordinator.headers))
    response = client.get(
        AUDIT,
        params={"format": "csv", "action": "identity.read", "target_id": person["id"]},
        headers=admin.headers,
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 6  # the five reads, and the answer to the POST that recorded the person


def test_the_audit_log_shows_ids_never_names(
    client: TestClient, admin: Account, traffic: dict[str, Any]
) -> None:
    for params in ({}, {"format": "csv"}):
        response = client.get(AUDIT, params=params | {"limit": 500}, headers=admin.headers)
        assert NAME not in response.text and "Ярашук" not in response.text


def test_reading_the_log_writes_nothing_to_it(client: TestClient, ctx, admin: Account) -> None:  # type: ignore[no-untyped-def]
    before = last_event_id(ctx)
    audit(client, admin)
    assert last_event_id(ctx) == before
