"""Involvements and testimonies inside a case: the "who did what to whom" links."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.factories import API, add_testimony, create_case, create_person, involve, ok, patch


class TestInvolvements:
    def test_minimal_request_from_the_issue_is_accepted(
        self, client: TestClient, documenter: Account
    ) -> None:
        case, person = create_case(client, documenter), create_person(client, documenter)
        row = involve(
            client, documenter, case["id"], person_id=person["id"], role="victim", victim_status="detained"
        )
        assert row["person_pseudonym"] == "Witness K-7"
        assert (
            ok(client.get(f"{API}/cases/{case['id']}/involvements", headers=documenter.headers))[0]["id"]
            == row["id"]
        )

    def test_organisation_as_perpetrator(self, client: TestClient, documenter: Account) -> None:
        case = create_case(client, documenter)
        org = ok(
            client.post(
                f"{API}/organisations",
                json={"name": "KGB of Belarus", "kind": "state_body"},
                headers=documenter.headers,
            ),
            201,
        )
        row = involve(
            client,
            documenter,
            case["id"],
            organisation_id=org["id"],
            role="perpetrator",
            perpetrator_type="010106000000",
        )
        assert row["organisation_name"] == "KGB of Belarus"

    def test_role_specific_fields_are_checked(self, client: TestClient, documenter: Account) -> None:
        case, person = create_case(client, documenter), create_person(client, documenter)
        url = f"{API}/cases/{case['id']}/involvements"
        bad = [
            {"person_id": person["id"], "role": "witness", "victim_status": "detained"},
            {"person_id": person["id"], "role": "victim", "perpetrator_type": "010106000000"},
            {"role": "victim"},
            {"person_id": person["id"], "organisation_id": person["id"], "role": "victim"},
            {"person_id": person["id"], "role": "bystander"},
            {"person_id": person["id"], "role": "victim", "victim_status": "vanished"},
        ]
        for body in bad:
            assert client.post(url, json=body, headers=documenter.headers).status_code == 422, body

    def test_a_person_one_cannot_see_cannot_be_attached(
        self, client: TestClient, documenter: Account, documenter2: Account
    ) -> None:
        person = create_person(client, documenter)
        case = create_case(client, documenter2)
        response = client.post(
            f"{API}/cases/{case['id']}/involvements",
            json={"person_id": person["id"], "role": "victim"},
            headers=documenter2.headers,
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.person_id"

    def test_status_change_and_retraction_are_kept_in_the_case_history(
        self, client: TestClient, documenter: Account
    ) -> None:
        case, person = create_case(client, documenter), create_person(client, documenter)
        row = involve(
            client, documenter, case["id"], person_id=person["id"], role="victim", victim_status="detained"
        )
        url = f"{API}/cases/{case['id']}/involvements/{row['id']}"
        assert (
            ok(patch(client, documenter, url, '"v1"', victim_status="sentenced"))["victim_status"]
            == "sentenced"
        )
        assert patch(client, documenter, url, '"v1"', victim_status="released").status_code == 412
        ok(
            client.post(
                f"{url}/retract",
                json={"reason": "wrong person"},
                headers={**documenter.headers, "If-Match": '"v2"'},
            )
        )
        assert ok(client.get(f"{API}/cases/{case['id']}/involvements", headers=documenter.headers)) == []
        history = ok(client.get(f"{API}/cases/{case['id']}/history", headers=documenter.headers))
        assert [(h["entity_type"], h["action"]) for h in history] == [
            ("case", "create"),
            ("involvement", "create"),
            ("involvement", "update"),
            ("involvement", "retract"),
        ]


class TestTestimonies:
    def test_minimal_request_from_the_issue_is_accepted(
        self, client: TestClient, documenter: Account, researcher: Account
    ) -> None:
        case, person = create_case(client, documenter), create_person(client, documenter)
        row = ok(
            client.post(
                f"{API}/cases/{case['id']}/testimonies",
                json={
                    "source_person_id": person["id"],
                    "language": "be",
                    "text": "...",
                    "taken_at": "2026-01-10",
                },
                headers=documenter.headers,
            ),
            201,
        )
        assert row["taken_by"] == str(documenter.user_id)
        assert row["reliability"] == "unknown"
        read = ok(client.get(f"{API}/cases/{case['id']}/testimonies/{row['id']}", headers=researcher.headers))
        assert read["source_pseudonym"] == "Witness K-7"

    def test_translations_and_reliability(self, client: TestClient, documenter: Account) -> None:
        case, person = create_case(client, documenter), create_person(client, documenter)
        row = add_testimony(
            client,
            documenter,
            case["id"],
            person["id"],
            reliability="likely_reliable",
            translations=[
                {"language": "en", "text": "He was detained after the meeting."},
                {"language": "ru", "text": "Его задержали после собрания."},
            ],
        )
        assert [t["language"] for t in row["translations"]] == ["en", "ru"]
        url = f"{API}/cases/{case['id']}/testimonies/{row['id']}"
        updated = ok(patch(client, documenter, url, '"v1"', text="Яго затрымалі пасля сходу 19 красавіка."))
        assert updated["version"] == 2
        assert [h["action"] for h in ok(client.get(f"{url}/history", headers=documenter.headers))] == [
            "create",
            "update",
        ]

    def test_future_interview_date_is_refused(self, client: TestClient, documenter: Account) -> None:
        case, person = create_case(client, documenter), create_person(client, documenter)
        response = client.post(
            f"{API}/cases/{case['id']}/testimonies",
            json={"source_person_id": person["id"], "language": "be", "text": "x", "taken_at": "2999-01-01"},
            headers=documenter.headers,
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.taken_at"


class TestAppendOnlyHistory:
    def test_the_database_refuses_to_change_or_delete_revisions(
        self, client: TestClient, ctx, documenter: Account
    ) -> None:
        create_case(client, documenter)
        for statement in ("UPDATE revision SET action = 'forged'", "DELETE FROM revision"):
            with ctx.db.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="append-only"):
                conn.execute(sa.text(statement))
        with ctx.db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT action FROM revision")).scalars().all() == ["create"]
