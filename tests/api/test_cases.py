"""Cases: recording, reading, editing with ETags, retracting, history, visibility and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.factories import API, create_case, ok, patch


class TestRecording:
    def test_minimal_request_from_the_issue_is_accepted(
        self, client: TestClient, documenter: Account
    ) -> None:
        body = {
            "title": "...",
            "summary": "...",
            "country": "BY",
            "occurred_from": "2022-04-19",
            "date_precision": "day",
        }
        response = client.post(f"{API}/cases", json=body, headers=documenter.headers)
        case = ok(response, 201)
        assert response.headers["Location"] == f"/api/v1/cases/{case['id']}"
        assert response.headers["ETag"] == '"v1"'
        assert case["status"] == "draft"
        assert case["created_by"] == str(documenter.user_id)

    def test_references_are_sequential_per_year(self, client: TestClient, documenter: Account) -> None:
        year = datetime.now(UTC).year
        refs = [create_case(client, documenter)["reference"] for _ in range(3)]
        assert refs == [f"PR-{year}-{n:06d}" for n in (1, 2, 3)]

    @pytest.mark.parametrize(
        ("given", "precision", "earliest", "latest"),
        [
            ({"occurred_from": "2021"}, "year", "2021-01-01", "2021-12-31"),
            ({"occurred_from": "2021-02"}, "month", "2021-02-01", "2021-02-28"),
            ({"occurred_from": "2021-02-17", "date_precision": "month"}, "month", "2021-02-01", "2021-02-28"),
            ({"occurred_from": "2020-08-09", "occurred_to": "2020-08-12"}, "day", "2020-08-09", "2020-08-12"),
            (
                {"occurred_from": "2021-05-01", "date_precision": "approximate"},
                "approximate",
                "2021-01-31",
                "2021-07-30",
            ),
        ],
    )
    def test_uncertain_dates_cover_their_whole_period(
        self, client: TestClient, documenter: Account, given, precision, earliest, latest
    ) -> None:
        body = {"title": "Dismissal", "country": "BY", **given}
        case = ok(client.post(f"{API}/cases", json=body, headers=documenter.headers), 201)
        assert (case["date_precision"], case["earliest"], case["latest"]) == (precision, earliest, latest)

    def test_cyrillic_text_round_trips_normalised(self, client: TestClient, documenter: Account) -> None:
        decomposed = "Затрыманне старшыні прафсаюза\u0439"  # й as base + combining breve
        case = create_case(
            client, documenter, title=decomposed.replace("\u0439", "и\u0306"), region="Гродзенская вобласць"
        )
        assert case["title"] == decomposed
        assert case["region"] == "Гродзенская вобласць"

    def test_urgent_case_needs_a_justification(self, client: TestClient, documenter: Account) -> None:
        response = client.post(
            f"{API}/cases",
            json={"title": "Arrests", "country": "BY", "occurred_from": "2022-04-19", "urgent": True},
            headers=documenter.headers,
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.urgency_reason"

    def test_tags_and_categories_are_kept_without_duplicates(
        self, client: TestClient, documenter: Account
    ) -> None:
        case = create_case(
            client, documenter, tags=["Strike", "strike", "2020"], categories=["A.LIB.ARREST", "A.LIB.ARREST"]
        )
        assert case["tags"] == ["2020", "strike"]
        assert case["categories"] == ["A.LIB.ARREST"]
        assert case["primary_category"] == "A.LIB.ARREST"

    def test_categories_list_the_primary_first_then_by_code_everywhere(
        self, client: TestClient, documenter: Account
    ) -> None:
        case = create_case(
            client,
            documenter,
            categories=["C.DIS.DISMISSAL", "A.LIB.PRETRIAL", "A.LIB.ARREST"],
            primary_category="C.DIS.DISMISSAL",
        )
        assert case["categories"] == ["C.DIS.DISMISSAL", "A.LIB.ARREST", "A.LIB.PRETRIAL"]
        changed = ok(
            patch(
                client,
                documenter,
                f"{API}/cases/{case['id']}",
                '"v1"',
                categories=["A.LIB.PRETRIAL", "C.DIS.DISMISSAL"],
                primary_category="A.LIB.PRETRIAL",
            )
        )
        expected = ["A.LIB.PRETRIAL", "C.DIS.DISMISSAL"]
        assert changed["categories"] == expected
        assert (
            ok(client.get(f"{API}/cases/{case['id']}", headers=documenter.headers))["categories"] == expected
        )
        # The search page reads them from the case row, not from the category table: the same list.
        page = ok(client.get(f"{API}/cases", params={"category": "C.DIS"}, headers=documenter.headers))
        assert [hit["categories"] for hit in page["items"] if hit["id"] == case["id"]] == [expected]


class TestBadInput:
    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"colour": "red"}, "body.colour"),
            ({"country": "XX"}, "body.country"),
            ({"country": "BLR"}, "body.country"),
            ({"occurred_from": "2022-13-01"}, "body.occurred_from"),
            ({"occurred_from": "yesterday"}, "body.occurred_from"),
            ({"occurred_from": "1850-01-01"}, "body.occurred_from"),
            ({"occurred_to": "2022-01-01"}, "body.occurred_to"),
            ({"date_precision": "week"}, "body.date_precision"),
            ({"status": "published"}, "body.status"),
            ({"title": "a\x00b"}, "body.title"),
            ({"title": "x" * 501}, "body.title"),
            ({"title": ""}, "body.title"),
            ({"tags": ["ok"] * 51}, "body.tags"),
            ({"urgent": "very"}, "body.urgent"),
        ],
    )
    def test_invalid_field_gets_a_422_problem_naming_it(
        self, client: TestClient, documenter: Account, change, field
    ) -> None:
        body = {"title": "Arrest", "country": "BY", "occurred_from": "2022-04-19", **change}
        response = client.post(f"{API}/cases", json=body, headers=documenter.headers)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in problem["errors"]]

    def test_a_date_in_the_future_is_refused(self, client: TestClient, documenter: Account) -> None:
        future = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
        response = client.post(
            f"{API}/cases",
            json={"title": "x", "country": "BY", "occurred_from": future},
            headers=documenter.headers,
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.occurred_from"

    def test_malformed_uuid_is_a_422_naming_the_path_parameter(
        self, client: TestClient, documenter: Account
    ) -> None:
        response = client.get(f"{API}/cases/not-a-uuid", headers=documenter.headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "path.case_id"

    def test_unknown_query_parameter_is_refused(self, client: TestClient, documenter: Account) -> None:
        response = client.get(f"{API}/cases?colour=red", headers=documenter.headers)
        assert response.status_code == 422
        assert "query.colour" in [e["field"] for e in response.json()["errors"]]

    def test_rejected_input_is_not_echoed_back(self, client: TestClient, documenter: Account) -> None:
        response = client.post(
            f"{API}/cases",
            json={"title": "x", "country": "Иван Петров", "occurred_from": "2022-04-19"},
            headers=documenter.headers,
        )
        assert response.status_code == 422
        assert "Иван Петров" not in response.text

    def test_invalid_json_is_a_422_problem(self, client: TestClient, documenter: Account) -> None:
        response = client.post(
            f"{API}/cases",
            content=b'{"title": ',
            headers={**documenter.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"

    def test_bad_input_loses_nothing_already_stored(self, client: TestClient, documenter: Account) -> None:
        case = create_case(client, documenter)
        bad = patch(client, documenter, f"{API}/cases/{case['id']}", '"v1"', occurred_to="1999-01-01")
        assert bad.status_code == 422
        again = ok(client.get(f"{API}/cases/{case['id']}", headers=documenter.headers))
        assert again == case


class TestEditing:
    def test_patch_with_the_current_etag_changes_and_records_history(
        self, client: TestClient, documenter: Account
    ) -> None:
        case = create_case(client, documenter)
        url = f"{API}/cases/{case['id']}"
        response = patch(
            client,
            documenter,
            url,
            '"v1"',
            title="Arrest and detention of the union chair",
            status="submitted",
        )
        updated = ok(response)
        assert response.headers["ETag"] == '"v2"'
        assert updated["title"] == "Arrest and detention of the union chair"
        assert updated["version"] == 2
        history = ok(client.get(f"{url}/history", headers=documenter.headers))
        assert [h["action"] for h in history] == ["create", "update"]
        assert history[1]["changes"]["title"] == {
            "before": "Arrest of the union chair at Grodno Azot",
            "after": "Arrest and detention of the union chair",
        }
        assert history[1]["changes"]["status"] == {"before": "draft", "after": "submitted"}
        assert history[1]["actor_id"] == str(documenter.user_id)

    def test_a_stale_etag_gets_412_and_changes_nothing(self, client: TestClient, documenter: Account) -> None:
        case = create_case(client, documenter)
        url = f"{API}/cases/{case['id']}"
        ok(patch(client, documenter, url, '"v1"', title="First editor"))
        second = patch(client, documenter, url, '"v1"', title="Second editor")
        assert second.status_code == 412
        assert second.json()["current_etag"] == '"v2"'
        assert ok(client.get(url, headers=documenter.headers))["title"] == "First editor"

    def test_patch_without_if_match_gets_428(self, client: TestClient, documenter: Account) -> None:
        case = create_case(client, documenter)
        response = client.patch(f"{API}/cases/{case['id']}", json={"title": "x"}, headers=documenter.headers)
        assert response.status_code == 428

    def test_null_for_a_required_field_is_refused(self, client: TestClient, documenter: Account) -> None:
        case = create_case(client, documenter)
        response = patch(client, documenter, f"{API}/cases/{case['id']}", '"v1"', title=None)
        assert response.status_code == 422

    def test_changing_precision_recomputes_the_searchable_window(
        self, client: TestClient, documenter: Account
    ) -> None:
        case = create_case(client, documenter, occurred_from="2021-06-15")
        updated = ok(patch(client, documenter, f"{API}/cases/{case['id']}", '"v1"', date_precision="year"))
        assert (updated["occurred_from"], updated["earliest"], updated["latest"]) == (
            "2021-01-01",
            "2021-01-01",
            "2021-12-31",
        )

    def test_retracted_case_leaves_lists_but_keeps_its_record_and_history(
        self, client: TestClient, documenter: Account
    ) -> None:
        case = create_case(client, documenter)
        url = f"{API}/cases/{case['id']}"
        retracted = ok(
            client.post(
                f"{url}/retract",
                json={"reason": "duplicate of PR-2026-000002"},
                headers={**documenter.headers, "If-Match": '"v1"'},
            )
        )
        assert retracted["retracted"]["reason"] == "duplicate of PR-2026-000002"
        listed = ok(client.get(f"{API}/cases", headers=documenter.headers))
        assert case["id"] not in [c["id"] for c in listed["items"]]
        assert ok(client.get(url, headers=documenter.headers))["retracted"] is not None
        assert [h["action"] for h in ok(client.get(f"{url}/history", headers=documenter.headers))] == [
            "create",
            "retract",
        ]
        assert patch(client, documenter, url, '"v2"', title="x").status_code == 409


class TestVisibility:
    def test_documenter_cannot_see_another_documenters_case(
        self, client: TestClient, documenter: Account, documenter2: Account
    ) -> None:
        case = create_case(client, documenter)
        response = client.get(f"{API}/cases/{case['id']}", headers=documenter2.headers)
        assert response.status_code == 404  # not 403: existence must not leak
        assert case["id"] not in [
            c["id"] for c in ok(client.get(f"{API}/cases", headers=documenter2.headers))["items"]
        ]

    def test_assignment_lets_a_documenter_see_and_edit(
        self, client: TestClient, documenter: Account, documenter2: Account, coordinator: Account
    ) -> None:
        case = create_case(client, documenter)
        ok(
            client.post(
                f"{API}/cases/{case['id']}/assignments",
                json={"user_id": str(documenter2.user_id)},
                headers=coordinator.headers,
            ),
            201,
        )
        assert (
            ok(patch(client, documenter2, f"{API}/cases/{case['id']}", '"v1"', place="Hrodna"))["place"]
            == "Hrodna"
        )

    def test_researcher_reads_every_case_but_cannot_edit(
        self, client: TestClient, documenter: Account, researcher: Account
    ) -> None:
        case = create_case(client, documenter)
        assert ok(client.get(f"{API}/cases/{case['id']}", headers=researcher.headers))["id"] == case["id"]
        assert patch(client, researcher, f"{API}/cases/{case['id']}", '"v1"', title="x").status_code == 403
        assert (
            client.post(
                f"{API}/cases",
                json={"title": "x", "country": "BY", "occurred_from": "2022"},
                headers=researcher.headers,
            ).status_code
            == 403
        )

    def test_restricted_cases_are_hidden_from_researchers(
        self, client: TestClient, documenter: Account, researcher: Account, coordinator: Account
    ) -> None:
        case = create_case(client, documenter, confidentiality="restricted")
        assert client.get(f"{API}/cases/{case['id']}", headers=researcher.headers).status_code == 404
        assert client.get(f"{API}/cases/{case['id']}", headers=coordinator.headers).status_code == 200


class TestListing:
    def test_cursor_pages_cover_every_case_once_with_a_total(
        self, client: TestClient, documenter: Account
    ) -> None:
        created = {create_case(client, documenter)["id"] for _ in range(7)}
        seen: list[str] = []
        url = f"{API}/cases?limit=3"
        while True:
            page = ok(client.get(url, headers=documenter.headers))
            assert page["total"] == 7
            seen += [c["id"] for c in page["items"]]
            if not page["next_cursor"]:
                break
            url = f"{API}/cases?limit=3&cursor={page['next_cursor']}"
        assert len(seen) == 7
        assert set(seen) == created

    def test_a_tampered_cursor_is_a_422(self, client: TestClient, documenter: Account) -> None:
        for _ in range(3):
            create_case(client, documenter)
        cursor = ok(client.get(f"{API}/cases?limit=1", headers=documenter.headers))["next_cursor"]
        tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
        response = client.get(f"{API}/cases?limit=1&cursor={tampered}", headers=documenter.headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.cursor"

    def test_filters_combine(self, client: TestClient, documenter: Account) -> None:
        create_case(client, documenter, country="BY", tags=["strike"])
        create_case(client, documenter, country="LT", tags=["strike"])
        create_case(client, documenter, country="BY")
        page = ok(client.get(f"{API}/cases?country=BY&tag=strike", headers=documenter.headers))
        assert page["total"] == 1
        assert page["items"][0]["country"] == "BY"
