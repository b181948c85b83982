"""Research exports: search results as CSV and NDJSON, the same filters and visibility as search, no identities."""

from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.context import AppContext
from api.models import AuditEvent
from tests.conftest import Account
from tests.factories import API, create_case, create_person, involve, ok
from tests.leaks import find

CANARY = "Тайнасць Сакрэтаўна"
URL = f"{API}/exports/research"


def _csv(response: object) -> list[dict[str, str]]:
    text = response.content.decode("utf-8")  # type: ignore[attr-defined]
    return list(csv.DictReader(io.StringIO(text)))


def _ndjson(response: object) -> list[dict]:
    return [json.loads(line) for line in response.content.decode().splitlines()]  # type: ignore[attr-defined]


@pytest.fixture
def world(client: TestClient, documenter: Account, coordinator: Account) -> dict:
    """Cases by two authors, with victims, categories, tags, a restricted case and a retracted one."""
    victim = create_person(client, documenter, pseudonym="Victim V-1", identity={"full_name": CANARY})
    other = create_person(client, documenter, pseudonym="Victim V-2", identity={"full_name": "Іван Другі"})
    arrest = create_case(
        client,
        documenter,
        title='=HYPERLINK("http://evil.example","click")',
        region="Гродзенская вобласць",
        employer="Grodno Azot",
        occurred_from="2021",
        date_precision="year",
        categories=["A.LIB.ARREST", "A.LIB.PRETRIAL"],
        primary_category="A.LIB.PRETRIAL",
        tags=["strike", "azot"],
    )
    involve(client, documenter, arrest["id"], person_id=victim["id"], role="victim", victim_status="detained")
    involve(client, documenter, arrest["id"], person_id=other["id"], role="victim", victim_status="detained")
    dismissal = create_case(
        client,
        documenter,
        title="Звальненне сябра прафсаюза",
        occurred_from="2023-05-02",
        categories=["C.DIS.DISMISSAL"],
    )
    involve(
        client, documenter, dismissal["id"], person_id=other["id"], role="victim", victim_status="dismissed"
    )
    restricted = create_case(
        client,
        coordinator,
        title="Restricted source case",
        confidentiality="restricted",
        occurred_from="2022-01-01",
    )
    retracted = create_case(client, documenter, title="Entered twice", occurred_from="2022-02-02")
    ok(
        client.post(
            f"{API}/cases/{retracted['id']}/retract",
            json={"reason": "duplicate"},
            headers={**documenter.headers, "If-Match": '"v1"'},
        )
    )
    return {"arrest": arrest, "dismissal": dismissal, "restricted": restricted, "retracted": retracted}


def test_csv_holds_every_visible_case_with_its_facts_and_no_identity(
    client: TestClient, researcher: Account, world: dict
) -> None:
    response = client.get(URL, params={"format": "csv"}, headers=researcher.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = {row["id"]: row for row in _csv(response)}
    # The researcher may not see the restricted case; nobody sees a retracted one.
    assert set(rows) == {world["arrest"]["id"], world["dismissal"]["id"]}
    arrest = rows[world["arrest"]["id"]]
    assert arrest["reference"] == world["arrest"]["reference"]
    assert arrest["categories"] == "A.LIB.PRETRIAL;A.LIB.ARREST"  # the main category first
    assert arrest["primary_category"] == "A.LIB.PRETRIAL"
    assert arrest["tags"] == "azot;strike"
    assert arrest["victims"] == "2"
    assert arrest["victim_statuses"] == "detained=2"
    assert (arrest["date_precision"], arrest["date_lo"], arrest["date_hi"]) == (
        "year",
        "2021-01-01",
        "2021-12-31",
    )
    assert arrest["region"] == "Гродзенская вобласць"
    # A title that a spreadsheet would run as a formula is defused, and otherwise kept whole.
    assert arrest["title"] == '\'=HYPERLINK("http://evil.example","click")'
    assert rows[world["dismissal"]["id"]]["victim_statuses"] == "dismissed=1"
    # Oldest event first.
    assert [row["id"] for row in _csv(response)] == [world["arrest"]["id"], world["dismissal"]["id"]]
    assert find(response.content, [CANARY, "Іван Другі", "Тайнасць", "Другі"]) == []


def test_ndjson_carries_the_same_cases_as_structured_records(
    client: TestClient, coordinator: Account, world: dict
) -> None:
    response = client.get(URL, params={"format": "ndjson"}, headers=coordinator.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    records = {r["id"]: r for r in _ndjson(response)}
    # The coordinator sees restricted cases too; still no retracted one.
    assert set(records) == {world["arrest"]["id"], world["dismissal"]["id"], world["restricted"]["id"]}
    arrest = records[world["arrest"]["id"]]
    assert arrest["categories"] == ["A.LIB.PRETRIAL", "A.LIB.ARREST"]
    assert arrest["victim_statuses"] == {"detained": 2}
    assert arrest["victims"] == 2
    assert arrest["urgent"] is False
    # NDJSON keeps the typed text as typed: only CSV cells are defused for spreadsheets.
    assert arrest["title"].startswith("=HYPERLINK")
    assert find(response.content, [CANARY, "Іван Другі"]) == []


def test_filters_are_the_search_filters(client: TestClient, researcher: Account, world: dict) -> None:
    for params in (
        {"category": "A.LIB"},
        {"date_from": "2023-01-01"},
        {"employer": "Grodno Azot"},
        {"category": "C.DIS", "date_to": "2020-12-31"},
    ):
        exported = {
            r["id"]
            for r in _ndjson(
                client.get(URL, params={**params, "format": "ndjson"}, headers=researcher.headers)
            )
        }
        listed = ok(client.get(f"{API}/cases", params={**params, "limit": 200}, headers=researcher.headers))
        assert exported == {item["id"] for item in listed["items"]}, params
        assert len(exported) == listed["total"], params
    only_arrest = _ndjson(
        client.get(URL, params={"category": "A.LIB", "format": "ndjson"}, headers=researcher.headers)
    )
    assert [r["id"] for r in only_arrest] == [world["arrest"]["id"]]


def test_a_documenter_may_not_export_research_and_bad_input_is_a_problem(
    client: TestClient, documenter: Account, researcher: Account, world: dict
) -> None:
    denied = client.get(URL, params={"format": "csv"}, headers=documenter.headers)
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    for params, name in (
        ({"format": "xlsx"}, "format"),
        ({"format": "csv", "category": "NO.SUCH.CODE"}, "category"),
        ({"format": "csv", "date_from": "2021-02-30"}, "date_from"),
        ({"format": "csv", "colour": "red"}, "colour"),
    ):
        response = client.get(URL, params=params, headers=researcher.headers)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert name in response.text, (params, response.text)
    assert client.get(URL, params={"format": "csv"}).status_code == 401


def test_the_export_is_audited_without_its_rows(
    client: TestClient, ctx: AppContext, researcher: Account, world: dict
) -> None:
    response = client.get(
        URL, params={"format": "csv", "employer": "Grodno Azot"}, headers=researcher.headers
    )
    assert response.status_code == 200
    with ctx.db.engine.connect() as conn:
        events = conn.execute(
            sa.select(AuditEvent.actor_id, AuditEvent.details).where(AuditEvent.action == "export.research")
        ).all()
    [(actor_id, details)] = events
    assert actor_id == researcher.user_id
    assert details["format"] == "csv"
    assert details["filters"] == {"employer": "Grodno Azot"}
    assert details["rows"] == 1
    assert details["complete"] is True
